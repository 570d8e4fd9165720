import CIntrinsics

/// CRC-32C (Castagnoli), the checksum of TFRecord framing and of checkpoint datasets, computed
/// with the CPU's CRC instruction (several GB/s). Feed bytes in any number of pieces with
/// `update`; `value` is the checksum of everything fed so far (0 for no bytes).
public struct CRC32C: Sendable {
    private var register: UInt32 = 0xFFFF_FFFF

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        register = recsys_crc32c_update(register, base, bytes.count)
    }

    public var value: UInt32 { register ^ 0xFFFF_FFFF }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
