// DHCPv4 constants, under the names RFC 2131 and RFC 2132 use, each with its section.
//
// RFC 2131 §2, Figure 1 — the message format (the BOOTP layout of RFC 951 with a 'flags' field
// and a variable 'options' area):
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +---------------+---------------+---------------+---------------+
//   |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
//   +---------------+---------------+---------------+---------------+
//   |                            xid (4)                            |
//   +-------------------------------+-------------------------------+
//   |           secs (2)            |           flags (2)           |
//   +-------------------------------+-------------------------------+
//   |                          ciaddr  (4)                          |
//   |                          yiaddr  (4)                          |
//   |                          siaddr  (4)                          |
//   |                          giaddr  (4)                          |
//   +---------------------------------------------------------------+
//   |                          chaddr  (16)                         |
//   |                          sname   (64)                         |
//   |                          file    (128)                        |
//   |                          options (variable)                   |
//   +---------------------------------------------------------------+

/// DHCPv4 protocol constants (RFC 2131, RFC 2132, RFC 1542).
public enum DHCP {
    /// RFC 2131 §4.1: "DHCP messages from a client to a server are sent to the 'DHCP server'
    /// port (67), and DHCP messages from a server to a client are sent to the 'DHCP client'
    /// port (68)."
    public static let serverPort: UInt16 = 67
    /// The 'DHCP client' UDP port (RFC 2131 §4.1).
    public static let clientPort: UInt16 = 68

    /// RFC 2131 §3: "The first four octets of the 'options' field of the DHCP message contain
    /// the (decimal) values 99, 130, 83 and 99, respectively".
    public static let magicCookie: UInt32 = 0x6382_5363

    /// RFC 2131 §2: "The leftmost bit is defined as the BROADCAST (B) flag."
    public static let broadcastFlag: UInt16 = 0x8000

    /// RFC 2131 §3.3: "The time value of 0xffffffff is reserved to represent "infinity"."
    public static let infiniteLeaseTime: UInt32 = 0xFFFF_FFFF

    /// 'htype' for 10 Mb Ethernet (RFC 1700, ARP hardware types), with 'hlen' 6.
    public static let hardwareTypeEthernet: UInt8 = 1

    /// Byte offsets of the fixed fields (RFC 2131 §2, Figure 1 and Table 1).
    public enum Offset {
        public static let op = 0
        public static let htype = 1
        public static let hlen = 2
        public static let hops = 3
        public static let xid = 4
        public static let secs = 8
        public static let flags = 10
        public static let ciaddr = 12
        public static let yiaddr = 16
        public static let siaddr = 20
        public static let giaddr = 24
        public static let chaddr = 28
        public static let sname = 44
        public static let file = 108
        /// The 'options' field; its first four octets are the magic cookie.
        public static let options = 236
        /// The first option, after the magic cookie.
        public static let firstOption = 240
    }

    /// Field sizes (RFC 2131 §2, Table 1).
    public static let chaddrLength = 16
    public static let snameLength = 64
    public static let fileLength = 128

    /// The fixed part plus the magic cookie: the shortest prefix a DHCP message can have.
    public static let headerLength = Offset.firstOption

    /// RFC 1542 §2.1: "The IP Total Length and UDP Length must be large enough to contain the
    /// minimal BOOTP header of 300 octets (in the UDP data field) specified in [1]."
    public static let minimumMessageLength = 300

    /// RFC 2132 §9.10: "The minimum legal value is 576 octets." (maximum DHCP message size)
    public static let minimumMaximumMessageSize = 576
}
