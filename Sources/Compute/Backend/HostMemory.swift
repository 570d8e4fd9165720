#if canImport(Glibc)
import Glibc
#endif

/// Zero-filled, 64-byte-aligned host allocations. Blocks of 4 MiB or more (embedding tables) are
/// 2 MiB aligned and asked for transparent huge pages: random row lookups then miss the TLB far
/// less.
enum HostMemory {
    static func allocate(byteCount requested: Int) -> UnsafeMutableRawPointer {
        let hugePage = 1 << 21
        var byteCount = max(requested, 1)
        let usesHugePages = byteCount >= 2 * hugePage
        if usesHugePages { byteCount = (byteCount + hugePage - 1) / hugePage * hugePage }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: usesHugePages ? hugePage : 64)
        #if os(Linux)
        if usesHugePages { _ = madvise(raw, byteCount, MADV_HUGEPAGE) }
        #endif
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        return raw
    }

    static func deallocate(_ raw: UnsafeMutableRawPointer) { raw.deallocate() }
}
