import Foundation
import TernWire

/// Every record in a partition's log directory (`<data directory>/<topic>-<partition>`), in offset
/// order, read from its segment files: what a stopped broker holds for the partition.
public func recordsOnDisk(partitionDirectory directory: String) throws -> [(offset: Int64, value: String)] {
    let segments = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }
        .sorted()
    var records: [(offset: Int64, value: String)] = []
    for segment in segments {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + segment)))
        for r in try decodeRecords(bytes) { records.append((r.offset, String(decoding: r.value ?? [], as: UTF8.self))) }
    }
    return records
}
