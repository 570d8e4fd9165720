import Compute
import Foundation

/// Writes TensorBoard event files (`events.out.tfevents.<time>.<host>`): TFRecord-framed
/// `Event` protocol buffers holding scalar summaries, which `tensorboard --logdir` displays.
///
/// Each record is: length (UInt64 LE), masked CRC-32C of the length (UInt32 LE), the bytes,
/// masked CRC-32C of the bytes. An `Event` is wall_time (field 1, double), step (field 2,
/// varint) and either file_version (field 3) or a `Summary` (field 5) whose `Value`s carry a
/// tag (field 1) and a simple_value (field 2, float).
public final class TensorBoardEventWriter {
    public let path: String
    private let handle: FileHandle

    public init(directory: String) throws {
        let host = ProcessInfo.processInfo.hostName
        path = "\(directory)/events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host)"
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DataWriteError(path: path)
        }
        self.handle = handle
        var event = Protobuf()
        event.double(field: 1, Date().timeIntervalSince1970)
        event.bytes(field: 3, Array("brain.Event:2".utf8))
        try write(record: event.data)
    }

    deinit { try? handle.close() }

    /// One event with a scalar per tag at `step`.
    public func add(step: Int, scalars: [(tag: String, value: Double)]) throws {
        var summary = Protobuf()
        for scalar in scalars {
            var value = Protobuf()
            value.bytes(field: 1, Array(scalar.tag.utf8))
            value.float(field: 2, Float(scalar.value))
            summary.bytes(field: 1, value.data)
        }
        var event = Protobuf()
        event.double(field: 1, Date().timeIntervalSince1970)
        event.varint(field: 2, UInt64(max(step, 0)))
        event.bytes(field: 5, summary.data)
        try write(record: event.data)
    }

    private func write(record: [UInt8]) throws {
        var frame: [UInt8] = []
        let length = withUnsafeBytes(of: UInt64(record.count).littleEndian, Array.init)
        frame += length
        frame += withUnsafeBytes(of: CRC32C.masked(length).littleEndian, Array.init)
        frame += record
        frame += withUnsafeBytes(of: CRC32C.masked(record).littleEndian, Array.init)
        try handle.write(contentsOf: frame)
        try handle.synchronize()
    }
}

/// A file of the run directory could not be written.
public struct DataWriteError: Error, CustomStringConvertible {
    public let path: String
    public init(path: String) { self.path = path }
    public var description: String { "\(path): cannot write" }
}

/// The few protocol-buffer encodings an `Event` needs.
struct Protobuf {
    private(set) var data: [UInt8] = []

    mutating func varint(field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        rawVarint(value)
    }

    mutating func double(field: Int, _ value: Double) {
        key(field, wireType: 1)
        data += withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
    }

    mutating func float(field: Int, _ value: Float) {
        key(field, wireType: 5)
        data += withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
    }

    mutating func bytes(field: Int, _ value: [UInt8]) {
        key(field, wireType: 2)
        rawVarint(UInt64(value.count))
        data += value
    }

    private mutating func key(_ field: Int, wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

    private mutating func rawVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            data.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        data.append(UInt8(value))
    }
}

extension CRC32C {
    /// The checksum of `bytes`, masked as TFRecord files store it.
    static func masked(_ bytes: [UInt8]) -> UInt32 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
