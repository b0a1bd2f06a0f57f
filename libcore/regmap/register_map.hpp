#pragma once
// The register map (TOML): which Modbus values each device has, how to decode them, how often to
// poll and where to publish (bridge --map), and what a simulated device holds (replay --serve-map). Every key
// is checked: an unknown key (with "did you mean"), a value of the wrong type or out of range is a usage
// error naming the file, the line, the device and the value.
#include "modbus/modbus.hpp"
#include "mqtt/topic.hpp"
#include "util/error.hpp"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace m2m {

struct MapValue {
    std::string name;
    int fc = 3; // 1 coil, 2 discrete, 3 holding, 4 input
    int addr = 0;
    modbus::ValueSpec spec; // type, order, scale, offset, decimals
    std::optional<TopicTemplate> topic;
    std::string initial = "0"; // `value =` as JSON: what a simulated device holds at start
    std::string last;          // the value last published (--on-change)
};

/// One read of a poll round: registers (or bits) addr..addr+count-1 of one function code, and
/// the values in it with their offsets.
struct PollBlock {
    int fc = 3, addr = 0, count = 0;
    std::vector<std::pair<size_t, int>> values; // (index in MapDevice::values, offset from addr)
};

struct MapDevice {
    std::string name;
    int unit = 1;
    int64_t interval_us = 1000000;
    int max_gap = 10; // unmapped registers (or bits) a merged read may span
    std::vector<MapValue> values;
    std::vector<PollBlock> blocks; // the reads of a round (plan_blocks, poller.hpp)
    int available = -1;            // unknown, 0, 1
    int failures = 0;              // rounds in a row with no answer (backoff)
};

/// Reads FILE; `default_us` is the poll interval of a device that sets none.
Expected<std::vector<MapDevice>> load_map(const std::string& file, int64_t default_us);

} // namespace m2m
