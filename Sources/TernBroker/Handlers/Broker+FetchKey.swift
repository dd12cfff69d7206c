import TernNet
import TernStorage
import TernWire

extension Broker {
    /// FetchKey: the records of one key from an offset on, through the partition's key index,
    /// bounded by the high watermark as a fetch is; the batches go out from the segment files.
    func handleFetchKey(_ request: FetchKeyRequest, _ context: RequestContext) {
        let name = "\(request.topic)-\(request.partition)"
        guard let info = topics.topic(request.topic), info.holds(request.partition),
            let log = logManager.log(for: TopicPartition(request.topic, request.partition))
        else {
            return context.respond(
                error: ResponseStatus(
                    .unknownTopicOrPartition, "topic '\(request.topic)' has no partition \(request.partition)"))
        }
        guard leads(request.topic, request.partition) else {
            return context.respond(
                error: ResponseStatus(.notLeaderOrFollower, "broker \(config.nodeId) does not lead \(name)"))
        }
        guard request.fetchOffset >= 0 else {
            return context.respond(
                error: ResponseStatus(.offsetOutOfRange, "fetchOffset \(request.fetchOffset) of \(name) is negative"))
        }
        // The same bound as Fetch: only records below the high watermark are served.
        guard let highWatermark = visibleEnd(TopicPartition(request.topic, request.partition), log) else {
            return context.respond(
                error: ResponseStatus(.notLeaderOrFollower, "broker \(config.nodeId) does not lead \(name) (yet)"))
        }
        let read: KeyReadResult
        do {
            read = try log.readKey(
                request.key, from: request.fetchOffset, maxOffset: highWatermark,
                maxBytes: Int(max(request.maxBytes, 1)))
        } catch let error as StorageError where error.code == .keyIndexDisabled {
            return context.respond(
                error: ResponseStatus(
                    .keyIndexDisabled, "topic '\(request.topic)' keeps no key index (set key.index.enable=true)"))
        } catch let error as StorageError where error.code == .offsetOutOfRange {
            return context.respond(
                error: ResponseStatus(
                    .offsetOutOfRange,
                    "offset \(request.fetchOffset) is past the high watermark \(highWatermark) of \(name)"))
        } catch let error as StorageError where error.code == .logTruncated {
            // Truncated while being read (leadership moved): retriable, with fresh metadata.
            return context.respond(error: ResponseStatus(.notLeaderOrFollower, "\(name): \(error.message)"))
        } catch {
            return context.respond(error: ResponseStatus(.kafkaStorageError, "\(name): \(error)"))
        }
        if read.byteCount > 0 {
            topicMetrics(request.topic).fetched(bytes: read.byteCount, records: read.offsets.count)
        }
        let response = FetchKeyResponse(
            highWatermark: highWatermark, logStartOffset: read.logStartOffset, nextOffset: read.nextOffset, records: [])
        context.respond(chunks: Self.encode(response, read, correlationId: context.header.correlationId))
    }

    /// The response frame: its head in memory, the batches as file regions (sent with `sendfile(2)`).
    private static func encode(_ response: FetchKeyResponse, _ read: KeyReadResult, correlationId: UInt32)
        -> [OutboundChunk]
    {
        var writer = ByteWriter(capacity: 64)
        Frame.beginResponse(&writer, correlationId: correlationId)
        FetchKeyResponse.writeHeader(&writer, response, recordsLength: read.byteCount)
        Frame.finish(&writer, extra: read.byteCount)
        var chunks: [OutboundChunk] = [.bytes(writer.take())]
        for slice in read.slices {
            chunks.append(
                .file(
                    FileRegion(
                        descriptor: slice.file.descriptor, offset: slice.position, count: slice.count,
                        owner: slice.file, isCurrent: { slice.isCurrent })))
        }
        return chunks
    }
}
