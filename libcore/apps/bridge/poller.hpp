#pragma once
// Modbus polling from the register map (bridge --map): values grouped into as few reads as the bus
// allows, a schedule per device that backs off a unit that keeps failing, and replies decoded into
// values. No I/O: the bridge sends each read and hands back what came, so this is unit-tested.
#include "regmap/register_map.hpp"
#include <functional>
#include <string_view>

namespace m2m {

/// One read of a poll round: a block of a device's registers (or bits) and the request ADU.
struct PollRead {
    size_t dev = 0, block = 0;
    std::string adu;
};

/// Groups a device's values into reads: one unit and function code, adjacent in address (at most
/// `max_gap` unmapped registers or bits between two values), at most 125 registers or 2000 bits.
/// In address order; a value that appears twice is read once per block it is in. max_gap -1: one
/// read per value.
std::vector<PollBlock> plan_blocks(const MapDevice& d, int max_gap);

class Poller {
  public:
    struct Hooks {
        std::function<void(MapDevice&, MapValue&, const std::string& json)> value;
        /// The device answered this value's read with an exception (named: "exception 2 (illegal
        /// data address)").
        std::function<void(MapDevice&, MapValue&, const std::string& why)> value_error;
        /// Whether the device answers: false at a read with no (good) answer, true at the next good one.
        std::function<void(MapDevice&, bool ok, const std::string& why)> available;
    };

    explicit Poller(std::vector<MapDevice> map);

    std::vector<MapDevice>& devices() { return map_; }
    /// The reads of one round of device `di`, in address order.
    std::vector<PollRead> round(size_t di) const;
    /// When device `di`'s next round is due: its interval after `due`; while it keeps failing,
    /// the interval doubled per failed round, up to max(interval, 30 s), from `now`.
    int64_t next_round(size_t di, int64_t due, int64_t now) const;

    /// The reply ADU to `r`. Values are decoded and handed to the hooks.
    struct Outcome {
        bool skip_rest = false;      // the unit did not answer: the rest of its round is not read
        std::vector<PollRead> again; // reads to send now (a block the device refused whole, split)
    };
    Outcome answered(const PollRead& r, std::string_view adu);
    /// `r` got no answer, or no good one (after the bridge's retries).
    Outcome failed(const PollRead& r, const std::string& why);

    Hooks hooks;

  private:
    Outcome exception(const PollRead& r, int code, const std::string& why);
    std::vector<MapDevice> map_;
};

} // namespace m2m
