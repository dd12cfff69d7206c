import TernRaft
import TernStorage
import TernWire

/// One snapshot of the metadata state machine on disk, `<endOffset>-<lastEpoch>.snapshot` in the
/// quorum directory (20 and 10 digits, zero-padded, so names sort by offset):
///
/// ```
/// magic "TRNSNAP1" | endOffset i64 | lastEpoch i64 | length i64 | crc32c u32 | data
/// ```
///
/// `crc` covers the 32 bytes before it and `data`. Written whole to `<name>.tmp`, fsynced, renamed
/// into place and the directory fsynced (``TernStorage/AtomicFile``): a crash leaves no snapshot
/// or a complete one, and a `.tmp` left over is removed on load.
enum QuorumSnapshotFile {
    static let suffix = ".snapshot"
    static let magic: [UInt8] = Array("TRNSNAP1".utf8)
    static let headerSize = 36

    static func name(for id: RaftSnapshotId) -> String {
        pad(id.endOffset, 20) + "-" + pad(id.lastEpoch, 10) + suffix
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(width - digits.count, 0)) + digits
    }

    /// The id a file name claims, or nil when it is not a snapshot's name.
    static func id(fromName name: String) -> RaftSnapshotId? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        let parts = stem.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 20, parts[1].count == 10,
            parts.allSatisfy({ $0.allSatisfy { $0 >= "0" && $0 <= "9" } }),
            let end = Int64(parts[0]), let epoch = Int64(parts[1])
        else { return nil }
        return RaftSnapshotId(endOffset: end, lastEpoch: epoch)
    }

    static func encode(_ snapshot: RaftSnapshot) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize + snapshot.data.count)
        w.write(contentsOf: magic)
        w.write(snapshot.endOffset)
        w.write(snapshot.lastEpoch)
        w.write(Int64(snapshot.data.count))
        w.write(UInt32(0))
        w.write(contentsOf: snapshot.data)
        var bytes = w.take()
        let value = checksum(bytes)
        bytes[32] = UInt8(truncatingIfNeeded: value >> 24)
        bytes[33] = UInt8(truncatingIfNeeded: value >> 16)
        bytes[34] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[35] = UInt8(truncatingIfNeeded: value)
        return bytes
    }

    /// CRC-32C of the header before the CRC field and of the data.
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { raw in
            let head = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: raw[0..<32]))
            return CRC32C.update(head, UnsafeRawBufferPointer(rebasing: raw[headerSize...]))
        }
    }

    /// Reads the snapshot file `path`, which must hold snapshot `id` (its name's claim).
    /// - Returns: the snapshot, or why the file cannot be trusted.
    static func read(_ path: String, id: RaftSnapshotId, maxBytes: Int) -> Result<RaftSnapshot, StorageError> {
        func bad(_ reason: String) -> Result<RaftSnapshot, StorageError> {
            .failure(StorageError(.corruptLog, "\(path): \(reason)"))
        }
        let bytes: [UInt8]
        do {
            guard let read = try AtomicFile.readIfExists(path, limit: Int64(maxBytes) + Int64(headerSize)) else {
                return bad("missing")
            }
            bytes = read
        } catch let error as StorageError {
            return .failure(error)
        } catch {
            return bad("\(error)")
        }
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else { return bad("not a snapshot file") }
        var r = ByteReader(bytes, range: 8..<headerSize)
        guard let end = try? r.readInt64(), let epoch = try? r.readInt64(), let length = try? r.readInt64(),
            let crc = try? r.readUInt32()
        else { return bad("unreadable header") }
        guard end == id.endOffset, epoch == id.lastEpoch else {
            return bad("holds end offset \(end) and epoch \(epoch), not what its name says")
        }
        guard end >= 1, epoch >= 1, epoch <= RaftMessage.maxEpoch else {
            return bad("end offset \(end) or epoch \(epoch) out of range")
        }
        guard length == Int64(bytes.count - headerSize) else {
            return bad("says \(length) bytes of data, holds \(bytes.count - headerSize)")
        }
        guard checksum(bytes) == crc else { return bad("CRC mismatch") }
        return .success(RaftSnapshot(endOffset: end, lastEpoch: epoch, data: Array(bytes[headerSize...])))
    }
}
