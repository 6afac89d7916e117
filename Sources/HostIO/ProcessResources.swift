// Room: HostIO — what the running process holds: heap in use (glibc's count of allocated bytes,
// exact where resident memory is not: the allocator keeps freed pages), resident memory, open
// descriptors and memory mappings, read from mallinfo2 (through CShims) and /proc/self. Soak runs
// (Lab's LabSoak) sample it between scenario runs; it reads, and changes nothing.
import CShims
import Glibc

public struct ProcessResources: Sendable, Equatable {
    /// Bytes the allocator has handed out and not had back (mallinfo2's uordblks + hblkhd).
    public var heapBytes: Int
    /// Resident set size in bytes (/proc/self/statm).
    public var residentBytes: Int
    /// Open file descriptors (/proc/self/fd, less the one reading it).
    public var descriptors: Int
    /// Memory mappings (/proc/self/maps lines).
    public var mappings: Int

    public init(heapBytes: Int, residentBytes: Int, descriptors: Int, mappings: Int) {
        self.heapBytes = heapBytes; self.residentBytes = residentBytes; self.descriptors = descriptors; self.mappings = mappings
    }

    /// The process now.
    public static func current() -> ProcessResources {
        let heap = Int(clamping: sluice_heap_bytes_in_use())
        var resident = 0
        if let statm = readSmallFile("/proc/self/statm") {
            let fields = statm.split(separator: UInt8(ascii: " "))
            if fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) {
                resident = pages.multipliedReportingOverflow(by: sysconf(Int32(_SC_PAGESIZE))).partialValue
            }
        }
        return ProcessResources(heapBytes: heap, residentBytes: resident, descriptors: descriptorCount(),
                                mappings: readSmallFile("/proc/self/maps")?.count(where: { $0 == UInt8(ascii: "\n") }) ?? 0)
    }

    /// Entries of /proc/self/fd other than `.`, `..` and the directory's own descriptor.
    static func descriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var n = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { n += 1 }
        }
        return max(0, n - 1)
    }

    /// The whole of a /proc file (they report size 0, so read to the end); nil when it cannot be opened.
    static func readSmallFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            out += chunk[0..<n]
            if out.count > 64 << 20 { break }
        }
        return out
    }
}
