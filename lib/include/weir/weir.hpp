// Umbrella header: everything a weir user needs.
#pragma once

#include "weir/bus.hpp"
#include "weir/codec.hpp"
#include "weir/consumer.hpp"
#include "weir/control.hpp"
#include "weir/dlq.hpp"
#include "weir/event.hpp"
#include "weir/inspect.hpp"
#include "weir/metrics.hpp"
#include "weir/options.hpp"
#include "weir/partitioner.hpp"
#include "weir/recovery.hpp"
#include "weir/router.hpp"
#include "weir/status.hpp"
#include "weir/subscribe.hpp"
#include "weir/version.hpp"
