// Serial port discovery for --list and ?serial-number= / ?vid=&pid= selection.
#include "links/serial.hpp"
#include <filesystem>
#include <fmt/format.h>
#include <libserialport.h>

namespace m2m {

std::vector<PortInfo> list_serial_ports() {
    std::vector<PortInfo> out;
    sp_port** ports = nullptr;
    if (sp_list_ports(&ports) != SP_OK) return out;
    namespace fs = std::filesystem;
    std::error_code ec;
    for (int i = 0; ports[i]; ++i) {
        sp_port* p = ports[i];
        PortInfo info;
        auto str = [](const char* s) { return s ? std::string(s) : std::string(); };
        info.port = str(sp_get_port_name(p));
        info.description = str(sp_get_port_description(p));
        auto transport = sp_get_port_transport(p);
        info.transport = transport == SP_TRANSPORT_USB         ? "usb"
                         : transport == SP_TRANSPORT_BLUETOOTH ? "bluetooth"
                                                               : "native";
        if (transport == SP_TRANSPORT_USB) {
            int vid = 0, pid = 0;
            if (sp_get_port_usb_vid_pid(p, &vid, &pid) == SP_OK) {
                info.vid = fmt::format("{:04x}", vid);
                info.pid = fmt::format("{:04x}", pid);
            }
            info.serial_number = str(sp_get_port_usb_serial(p));
            info.manufacturer = str(sp_get_port_usb_manufacturer(p));
            info.product = str(sp_get_port_usb_product(p));
        }
        for (const fs::path dir : {"/dev/serial/by-id"}) {
            for (auto& entry : fs::directory_iterator(dir, ec)) {
                if (fs::canonical(entry.path(), ec) == fs::path(info.port))
                    info.by_id = entry.path().string();
            }
        }
        out.push_back(std::move(info));
    }
    sp_free_port_list(ports);
    return out;
}

} // namespace m2m
