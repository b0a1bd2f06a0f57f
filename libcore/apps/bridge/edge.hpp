#pragma once
// bridge --sparkplug GROUP/NODE: the register map published as a Sparkplug B edge node (Eclipse
// Sparkplug 3.0). The bridge is the edge node NODE of group GROUP; each [[device]] of the map is a
// Sparkplug device named as in the map, each value a metric with its name and a datatype from its
// type (a scaled value is a Double, a coil a Boolean). What goes on the wire:
//   NDEATH  spBv1.0/G/NDEATH/N      the last will (QoS 1): bdSeq, one more on every connection
//   NBIRTH  spBv1.0/G/NBIRTH/N      at each connection, seq 0: bdSeq and Node Control/Rebirth
//   DBIRTH  spBv1.0/G/DBIRTH/N/D    when a device first answers (and after each NBIRTH): every metric
//   DDATA   spBv1.0/G/DDATA/N/D     the metrics that changed, read by read
//   DDEATH  spBv1.0/G/DDEATH/N/D    when a device stops answering
// seq counts 0..255 over everything but NDEATH and wraps. NCMD Node Control/Rebirth gives the births
// again; DCMD writes metrics by name as {"set":...} on the command topic does. This class makes the
// topics and payloads and reads the commands; the bridge does the I/O. A payload that does not
// encode (a value its datatype cannot hold) is an error naming it, not a message.
#include "regmap/register_map.hpp"
#include "util/error.hpp"
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

struct SpbMessage {
    std::string topic, payload;
};

class SparkplugEdge {
  public:
    /// "GROUP/NODE": two Sparkplug ids (no '/', '+' or '#'); a usage error says what is wrong.
    static Expected<SparkplugEdge> parse(std::string_view group_node);

    const std::string& group() const { return group_; }
    const std::string& node() const { return node_; }
    std::string topic(std::string_view type, std::string_view device = {}) const;
    /// The filters the edge node takes commands on: NCMD and DCMD of every device.
    std::vector<std::string> command_filters() const;

    /// The next connection's NDEATH (its will): bdSeq one more than the last (0 the first time).
    std::string next_death(uint64_t now_ms);
    /// The NDEATH of the connection now (what the will says), published at a normal exit.
    std::string death(uint64_t now_ms) const;
    int64_t bd_seq() const { return bd_seq_; }

    /// NBIRTH: seq starts again at 0.
    Expected<SpbMessage> node_birth(uint64_t now_ms);
    /// DBIRTH: every value of `d` (MapValue::last, null while unknown).
    Expected<SpbMessage> device_birth(const MapDevice& d, uint64_t now_ms);
    /// DDATA: the values `changed` (indexes into d.values) as they are now.
    Expected<SpbMessage> device_data(const MapDevice& d, const std::vector<size_t>& changed, uint64_t now_ms);
    Expected<SpbMessage> device_death(const MapDevice& d, uint64_t now_ms);

    /// A command that arrived on one of command_filters().
    struct Command {
        bool rebirth = false;
        std::string device; // DCMD: the device it is for
        std::string set;    // DCMD: {"set":{NAME:VALUE,...},"device":DEVICE}, as the command topic takes it
        std::vector<std::string> errors; // what was not understood, each in words
    };
    Command command(std::string_view topic, std::string_view payload) const;

    /// The Sparkplug datatype of a map value ("Int16", "Double", "Boolean", "String", ...).
    static std::string_view datatype(const MapValue& v);

  private:
    std::string metric(const MapValue& v, uint64_t now_ms) const;
    Expected<SpbMessage> message(std::string_view type, std::string_view device, std::string metrics,
                                 uint64_t now_ms);

    std::string group_, node_;
    int64_t bd_seq_ = -1;
    unsigned seq_ = 0;
};

} // namespace m2m
