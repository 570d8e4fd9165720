import Compute
import Foundation
import Protos
import SwiftProtobuf

/// Writes TensorBoard event files (`events.out.tfevents.<time>.<host>`): TFRecord-framed
/// `Event` protocol buffers (generated from Sources/Protos/proto/tensorboard_event.proto) holding
/// scalar summaries, which `tensorboard --logdir` displays.
///
/// Each record is: length (UInt64 LE), masked CRC-32C of the length (UInt32 LE), the bytes,
/// masked CRC-32C of the bytes.
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
        var event = Tensorboard_Event()
        event.wallTime = Date().timeIntervalSince1970
        event.fileVersion = "brain.Event:2"
        try write(event)
    }

    deinit { try? handle.close() }

    /// One event with a scalar per tag at `step`.
    public func add(step: Int, scalars: [(tag: String, value: Double)]) throws {
        var event = Tensorboard_Event()
        event.wallTime = Date().timeIntervalSince1970
        event.step = Int64(max(step, 0))
        event.summary.value = scalars.map { scalar in
            var value = Tensorboard_Summary.Value()
            value.tag = scalar.tag
            value.simpleValue = Float(scalar.value)
            return value
        }
        try write(event)
    }

    private func write(_ event: Tensorboard_Event) throws {
        let record: [UInt8] = try event.serializedBytes()
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

extension CRC32C {
    /// The checksum of `bytes`, masked as TFRecord files store it.
    static func masked(_ bytes: [UInt8]) -> UInt32 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
