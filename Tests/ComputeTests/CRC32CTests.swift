import Compute
import Testing
import TestSupport

@Suite struct CRC32CTests {
    /// The bitwise definition (reflected polynomial 0x82F63B78), byte by byte.
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }

    @Test func standardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func matchesTheBitwiseDefinitionInAnyPieces() {
        var random = TestRandom(seed: 7)
        for length in [1, 7, 8, 9, 63, 1000, 4097] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.generator.next()) }
            #expect(CRC32C.checksum(bytes) == Self.reference(bytes), "length \(length)")
            var pieces = CRC32C()
            bytes.withUnsafeBytes { all in
                let cut = length / 3
                pieces.update(UnsafeRawBufferPointer(rebasing: all[0..<cut]))
                pieces.update(UnsafeRawBufferPointer(rebasing: all[cut...]))
            }
            #expect(pieces.value == Self.reference(bytes), "length \(length) in two pieces")
        }
    }
}
