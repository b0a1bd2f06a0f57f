#pragma once
// bridge --modbus-server: Modbus TCP masters (SCADA, mbpoll) reach the devices on the bridge's
// serial bus, as mbusd does. This is the TCP side: it accepts any number of masters, reads their
// requests (MBAP header: transaction id, protocol 0, length, then unit id and PDU) and writes
// each answer back to the master that asked, with its transaction id. The bridge puts the requests
// on the bus between its own polls.
#include "loop/event_loop.hpp"
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace m2m {

class ModbusGateway {
  public:
    ModbusGateway(EventLoop& loop, int listen_fd);
    ~ModbusGateway();
    ModbusGateway(const ModbusGateway&) = delete;
    ModbusGateway& operator=(const ModbusGateway&) = delete;

    /// A master's request: the ADU (unit id and PDU) and where its answer goes.
    std::function<void(uint64_t client, uint16_t tid, std::string adu)> on_request;
    /// The answer (an ADU) to `tid` from `client`; dropped when that master has gone.
    void reply(uint64_t client, uint16_t tid, std::string_view adu);
    /// An exception answer: code 10 (gateway path unavailable) or 11 (target device failed to respond).
    void exception(uint64_t client, uint16_t tid, std::string_view request, int code);

    uint64_t requests = 0, answers = 0, exceptions = 0, bad_frames = 0;

  private:
    struct Client {
        int fd = -1, watch = -1;
        std::string in, out;
    };
    void accept_all();
    void send_adu(uint64_t client, uint16_t tid, std::string_view adu);
    void readable(uint64_t id);
    void flush(uint64_t id);
    void drop(uint64_t id);

    EventLoop& loop_;
    int listen_fd_, listen_watch_ = -1;
    uint64_t next_id_ = 1;
    std::map<uint64_t, Client> clients_;
};

} // namespace m2m
