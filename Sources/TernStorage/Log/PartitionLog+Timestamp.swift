import Logging
import Synchronization
import TernWire

extension PartitionLog {
    /// The first offset (at or after the log start) whose record timestamp is at or after
    /// `timestamp`, with that record's timestamp, as Kafka's ListOffsets answers it; nil when
    /// every record is older.
    ///
    /// Skips segments whose largest timestamp is older, starts inside a segment from its time
    /// index (the last entry older than `timestamp`) and offset index, then walks batch headers
    /// and decodes only a batch whose max timestamp reaches `timestamp`.
    public func offsetForTimestamp(_ timestamp: Int64) throws -> (offset: Int64, timestamp: Int64)? {
        // The segments are opened one at a time as the search reaches them (it usually stops in
        // the first), not all under the lock; one that left the log meanwhile (retention, a
        // cleaner swap) restarts the search on the new segment list.
        var attempts = 0
        while true {
            do {
                return try searchTimestamp(timestamp)
            } catch let error as StorageError where error.code == .notFound && attempts < 3 {
                attempts += 1
            }
        }
    }

    private func searchTimestamp(_ timestamp: Int64) throws -> (offset: Int64, timestamp: Int64)? {
        let (plans, start) = state.withLock { state -> ([(SegmentHandle, Int64, Int64)], Int64) in
            var plans: [(SegmentHandle, Int64, Int64)] = []
            for segment in state.segments where segment.maxTimestamp >= timestamp && segment.size > 0 {
                var position: Int64 = 0
                if let relative = segment.timeIndex.startOffset(searchingFor: timestamp) {
                    position = segment.offsetIndex.lookup(relative)?.position ?? 0
                }
                plans.append((segment.handle, position, segment.size))
            }
            return (plans, state.logStartOffset)
        }
        for (handle, position, size) in plans {
            let file = try handle.open()
            var scanner = BatchScanner(file: file, limit: size, from: position, verifyCRC: false)
            while let entry = try scanner.next() {
                let header = entry.header
                guard header.maxTimestamp >= timestamp, header.lastOffset >= start, !header.isControl else { continue }
                let bytes = try FileSystem.pread(file.fd, count: header.totalSize, at: entry.position, path: file.path)
                var records: [Record] = []
                do {
                    try RecordBatchDecoder.decode(bytes, minOffset: start, into: &records)
                } catch {
                    throw StorageError(
                        .corruptLog, "\(topicPartition): batch at \(file.path) position \(entry.position): \(error)")
                }
                if let record = records.first(where: { $0.timestamp >= timestamp }) {
                    return (record.offset, record.timestamp)
                }
            }
        }
        return nil
    }
}
