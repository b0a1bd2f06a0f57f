#include "apps/bridge/poller.hpp"
#include "modbus/modbus.hpp"
#include "util/log.hpp"
#include <algorithm>
#include <fmt/format.h>

namespace m2m {

namespace {

int width(const MapValue& v) {
    return modbus::registers_for(v.spec);
}

int max_span(int fc) {
    return fc <= 2 ? 2000 : 125;
}

} // namespace

std::vector<PollBlock> plan_blocks(const MapDevice& d, int max_gap) {
    std::vector<size_t> order(d.values.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        auto& x = d.values[a];
        auto& y = d.values[b];
        return x.fc != y.fc ? x.fc < y.fc : x.addr < y.addr;
    });
    std::vector<PollBlock> out;
    for (size_t i : order) {
        auto& v = d.values[i];
        int end = v.addr + width(v);
        if (!out.empty()) {
            auto& b = out.back();
            int b_end = b.addr + b.count;
            if (max_gap >= 0 && b.fc == v.fc && v.addr - b_end <= max_gap &&
                std::max(end, b_end) - b.addr <= max_span(v.fc)) {
                b.count = std::max(end, b_end) - b.addr;
                b.values.emplace_back(i, v.addr - b.addr);
                continue;
            }
        }
        PollBlock b;
        b.fc = v.fc;
        b.addr = v.addr;
        b.count = width(v);
        b.values.emplace_back(i, 0);
        out.push_back(std::move(b));
    }
    return out;
}

Poller::Poller(std::vector<MapDevice> map) : map_(std::move(map)) {
    for (auto& d : map_)
        d.blocks = plan_blocks(d, d.max_gap);
}

std::vector<PollRead> Poller::round(size_t di) const {
    std::vector<PollRead> out;
    auto& d = map_[di];
    for (size_t bi = 0; bi < d.blocks.size(); ++bi) {
        auto& b = d.blocks[bi];
        out.push_back({di, bi, modbus::read_request(d.unit, b.fc, b.addr, b.count)});
    }
    return out;
}

int64_t Poller::next_round(size_t di, int64_t due, int64_t now) const {
    auto& d = map_[di];
    if (d.failures == 0) { // absolute deadlines: a slow round does not push the next one later
        int64_t next = due + d.interval_us;
        return next < now ? now + d.interval_us : next;
    }
    int64_t cap = std::max<int64_t>(d.interval_us, 30'000'000);
    int64_t wait = d.interval_us;
    for (int i = 0; i < d.failures && wait < cap; ++i)
        wait *= 2;
    return now + std::min(wait, cap);
}

Poller::Outcome Poller::answered(const PollRead& r, std::string_view adu) {
    auto& d = map_[r.dev];
    auto& b = d.blocks[r.block];
    auto got = modbus::read_reply(adu, d.unit, b.fc, b.count);
    if (!got) {
        if (adu.size() >= 3 && (static_cast<unsigned char>(adu[1]) & 0x80) &&
            static_cast<unsigned char>(adu[0]) == d.unit)
            return exception(r, static_cast<unsigned char>(adu[2]), got.error().message);
        return failed(r, got.error().message);
    }
    d.failures = 0;
    if (hooks.available) hooks.available(d, true, {});
    std::vector<uint16_t> regs = std::move(got->regs);
    if (b.fc <= 2) regs.assign(got->bits.begin(), got->bits.end());
    for (auto [vi, off] : b.values) {
        auto& v = d.values[vi];
        auto n = static_cast<size_t>(width(v));
        std::span<const uint16_t> slice(regs.data() + off, n);
        if (hooks.value) hooks.value(d, v, modbus::value_json(slice, v.spec));
    }
    return {};
}

Poller::Outcome Poller::failed(const PollRead& r, const std::string& why) {
    auto& d = map_[r.dev];
    ++d.failures;
    if (hooks.available) hooks.available(d, false, why);
    Outcome o;
    o.skip_rest = true;
    return o;
}

Poller::Outcome Poller::exception(const PollRead& r, int code, const std::string& why) {
    auto& d = map_[r.dev];
    d.failures = 0; // it answered
    if (hooks.available) hooks.available(d, true, {});
    auto& b = d.blocks[r.block];
    if (code == 2 && b.values.size() > 1) {
        // a merged read spans an address the device does not have: read its values one by one
        static const char* tables[] = {"", "coils", "discrete inputs", "holding registers",
                                       "input registers"};
        log::note("device '{}': {} {}-{} cannot be read at once ({}); reading its {} values one by one",
                  d.name, tables[b.fc], b.addr, b.addr + b.count - 1, why, b.values.size());
        PollBlock whole = std::move(b);
        Outcome o;
        for (size_t k = 0; k < whole.values.size(); ++k) {
            auto [vi, off] = whole.values[k];
            auto& v = d.values[vi];
            PollBlock one{v.fc, v.addr, width(v), {{vi, 0}}};
            size_t bi = k == 0 ? r.block : d.blocks.size();
            if (k == 0)
                d.blocks[bi] = std::move(one);
            else
                d.blocks.push_back(std::move(one));
            auto& nb = d.blocks[bi];
            o.again.push_back({r.dev, bi, modbus::read_request(d.unit, nb.fc, nb.addr, nb.count)});
        }
        return o;
    }
    for (auto [vi, off] : b.values)
        if (hooks.value_error) hooks.value_error(d, d.values[vi], why);
    return {};
}

} // namespace m2m
