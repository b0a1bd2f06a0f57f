// The bridge's Modbus poller: reads grouped from the register map, backoff, exceptions.
#include "apps/bridge/poller.hpp"
#include "modbus/modbus.hpp"
#include <catch2/catch.hpp>

using namespace m2m;

namespace {

MapValue value(const char* name, int fc, int addr, const char* type = "uint16") {
    MapValue v;
    v.name = name;
    v.fc = fc;
    v.addr = addr;
    v.spec = *modbus::parse_type(type);
    return v;
}

MapDevice device(std::vector<MapValue> values, int max_gap = 10) {
    MapDevice d;
    d.name = "d";
    d.unit = 3;
    d.max_gap = max_gap;
    d.values = std::move(values);
    return d;
}

using Span = std::tuple<int, int, int>; // fc, addr, count

std::vector<Span> spans(const std::vector<PollBlock>& blocks) {
    std::vector<Span> out;
    for (auto& b : blocks)
        out.emplace_back(b.fc, b.addr, b.count);
    return out;
}

/// A read reply ADU for `regs`.
std::string reply(int unit, int fc, const std::vector<uint16_t>& regs) {
    std::string a{static_cast<char>(unit), static_cast<char>(fc), static_cast<char>(regs.size() * 2)};
    for (auto r : regs)
        a += static_cast<char>(r >> 8), a += static_cast<char>(r & 0xFF);
    return a;
}

} // namespace

TEST_CASE("poll reads: adjacent values of one function merged, bounded by max_gap and 125 registers") {
    auto d = device({value("b", 3, 2, "float32"), value("a", 3, 0), value("c", 3, 14), value("far", 3, 30),
                     value("in", 4, 0), value("coil", 1, 5, "bits"), value("coil2", 1, 7, "bits")});
    CHECK(spans(plan_blocks(d, 10)) == std::vector<Span>{{1, 5, 3}, {3, 0, 15}, {3, 30, 1}, {4, 0, 1}});
    CHECK(spans(plan_blocks(d, 0)) ==
          std::vector<Span>{{1, 5, 1}, {1, 7, 1}, {3, 0, 1}, {3, 2, 2}, {3, 14, 1}, {3, 30, 1}, {4, 0, 1}});
    CHECK(plan_blocks(d, -1).size() == d.values.size()); // one read per value
    auto blocks = plan_blocks(d, 10);
    CHECK(blocks[1].values == std::vector<std::pair<size_t, int>>{{1, 0}, {0, 2}, {2, 14}});
    auto fits = device({value("x", 3, 0), value("y", 3, 121, "float64")});
    CHECK(spans(plan_blocks(fits, 125)) == std::vector<Span>{{3, 0, 125}});
    auto over = device({value("x", 3, 0), value("y", 3, 122, "float64")});
    CHECK(spans(plan_blocks(over, 125)) == std::vector<Span>{{3, 0, 1}, {3, 122, 4}});
    auto overlap = device({value("word", 3, 4, "uint32"), value("low", 3, 5)});
    CHECK(spans(plan_blocks(overlap, 0)) == std::vector<Span>{{3, 4, 2}});
}

TEST_CASE("poller: one read gives every value in it, an exception 2 on a merged read splits it") {
    Poller p({device({value("a", 3, 0), value("t", 3, 1, "int16"), value("f", 3, 4, "float32")})});
    std::vector<std::string> got, errors;
    std::vector<bool> avail;
    p.hooks.value = [&](MapDevice&, MapValue& v, const std::string& j) { got.push_back(v.name + "=" + j); };
    p.hooks.value_error = [&](MapDevice&, MapValue& v, const std::string& why) {
        errors.push_back(v.name + ": " + why);
    };
    p.hooks.available = [&](MapDevice&, bool ok, const std::string&) { avail.push_back(ok); };
    auto r = p.round(0);
    REQUIRE(r.size() == 1);
    CHECK(r[0].adu == modbus::read_request(3, 3, 0, 6));
    auto o = p.answered(r[0], reply(3, 3, {7, 0xFFFE, 0, 0, 0x4366, 0x8000}));
    CHECK_FALSE(o.skip_rest);
    CHECK(got == std::vector<std::string>{"a=7", "t=-2", "f=230.5"});
    CHECK(avail == std::vector<bool>{true});
    // registers 2-3 are not there: the device refuses the whole read; its values go one by one
    o = p.answered(r[0], std::string{3, static_cast<char>(0x83), 2});
    REQUIRE(o.again.size() == 3);
    CHECK(o.again[2].adu == modbus::read_request(3, 3, 4, 2));
    CHECK(p.round(0).size() == 3);
    CHECK(errors.empty());
    // an exception on a single value is that value's error; the device did answer
    o = p.answered(o.again[1], std::string{3, static_cast<char>(0x83), 2});
    CHECK(o.again.empty());
    CHECK(errors == std::vector<std::string>{"t: exception 2 (illegal data address)"});
    // a reply for another unit is no good answer
    o = p.answered(p.round(0)[0], reply(4, 3, {1}));
    CHECK(o.skip_rest);
    CHECK(avail.back() == false);
}

TEST_CASE("poller: a unit that keeps failing is polled less and less often, then as before") {
    auto d = device({value("a", 3, 0)});
    d.interval_us = 1'000'000;
    Poller p({d});
    auto r = p.round(0)[0];
    CHECK(p.next_round(0, 5'000'000, 5'100'000) == 6'000'000); // absolute while it answers
    CHECK(p.next_round(0, 5'000'000, 6'300'000) == 7'300'000); // late: from now
    std::vector<int64_t> waits;
    for (int i = 0; i < 7; ++i) {
        CHECK(p.failed(r, "no reply within 1s").skip_rest);
        waits.push_back(p.next_round(0, 0, 0));
    }
    CHECK(waits == std::vector<int64_t>{2'000'000, 4'000'000, 8'000'000, 16'000'000, 30'000'000, 30'000'000,
                                        30'000'000});
    p.answered(r, reply(3, 3, {1}));
    CHECK(p.next_round(0, 0, 0) == 1'000'000);
}
