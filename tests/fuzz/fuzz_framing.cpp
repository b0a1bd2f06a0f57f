// libFuzzer target for one decoder (FRAMING, set at compile time). Checks, for any input:
// no crash; splitting the stream anywhere gives the same frames and drop counts; no frame is
// longer than the limit; and, where the framing can carry the input, encode -> decode is exact.
#include "framing/framing.hpp"
#include "modbus/modbus.hpp"
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// Each read's frames go into one batch, cleared after it as m2m-listen clears it, so a split run
// reuses the slots the whole run does not: a field a reused slot kept would differ.
std::vector<m2m::Frame> run(const m2m::Framing& f, std::string_view data, size_t split, m2m::DecoderStats* st,
                            int64_t step = 7000) {
    auto dec = f.decoder();
    std::vector<m2m::Frame> out;
    m2m::Frames batch;
    auto take = [&] {
        for (auto& fr : batch)
            out.push_back(fr);
        batch.clear();
    };
    int64_t t = 0;
    for (size_t at = 0; at < data.size(); at += split) {
        dec->feed(data.substr(at, split), t, batch);
        t += step; // time passes between reads: idle framings cut here when split allows
        dec->tick(t, batch);
        take();
    }
    dec->finish(batch);
    take();
    *st = dec->stats();
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
    static const auto framing = m2m::make_framing(FRAMING, {.max_frame = 64});
    if (!framing) std::abort();
    std::string_view data(reinterpret_cast<const char*>(bytes), size);
    size_t split = size ? 1 + bytes[0] % 17 : 1;
    m2m::DecoderStats whole_st, split_st;
    auto whole = run(*framing, data, data.size() + 1, &whole_st);
    for (auto& f : whole)
        if (f.bytes.size() > 64 && std::string(FRAMING).rfind("fixed", 0) != 0 &&
            std::string(FRAMING).rfind("modbus", 0) != 0) // Modbus frames have their own limit, 256
            std::abort();
    // with no time passing between reads (no silence), any split gives the same frames
    if (std::string(FRAMING) != "raw") {
        auto whole0 = run(*framing, data, data.size() + 1, &whole_st, 0);
        auto parts = run(*framing, data, split, &split_st, 0);
        if (parts.size() != whole0.size()) std::abort();
        for (size_t i = 0; i < parts.size(); ++i)
            if (parts[i].bytes != whole0[i].bytes || parts[i].err != whole0[i].err ||
                parts[i].view != whole0[i].view)
                std::abort();
        if (split_st.drops != whole_st.drops || split_st.dropped_bytes != whole_st.dropped_bytes)
            std::abort();
    }
    auto big = m2m::make_framing(FRAMING, {.max_frame = 1 << 20});
    std::string encoded;
    if (big->encoder()->encode(data, encoded)) {
        m2m::DecoderStats st;
        auto back = run(*big, encoded, encoded.size() + 1, &st);
        std::string name(FRAMING);
        bool stream = name == "raw" || name.rfind("idle", 0) == 0;
        if (name == "nmea") { // the encoder adds the checksum when there is none
            bool own_checksum = data.find('*') != std::string_view::npos; // may be wrong on purpose
            if (back.size() != 1 || (!own_checksum && !back[0].err.empty()) ||
                back[0].bytes.rfind(data, 0) != 0)
                std::abort();
        } else if (name == "modbus-rtu") { // only ADUs that fit their function's length rules come back whole
            auto l = m2m::modbus::adu_lengths(data);
            bool fits =
                l.request == static_cast<int>(data.size()) || l.response == static_cast<int>(data.size());
            bool unknown = l.request == 0 && l.response == 0;
            if ((fits || unknown) &&
                (back.empty() || !back[0].err.empty() || data.rfind(back[0].bytes, 0) != 0))
                std::abort();      // a shorter frame with a good CRC by chance is a valid reading
        } else if (name == "at") { // a command comes back as one line; an empty one is no line
            if (data.empty() ? !back.empty() : back.size() != 1 || back[0].bytes != data) std::abort();
        } else if (!stream && (back.size() != 1 || back[0].bytes != data)) {
            std::abort();
        }
    }
    return 0;
}
