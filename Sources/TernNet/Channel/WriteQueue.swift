#if canImport(Glibc)
import Glibc
#endif
import DequeModule

/// Bytes and file regions waiting to be written to one socket, in order.
///
/// ``flush(to:)`` writes runs of in-memory chunks with one `writev` each and file regions with
/// `sendfile`, handling partial writes, until the queue is empty or the socket would block.
/// A chunk (and with it a file region's `owner`) is released once every byte of it is sent.
///
/// Small in-memory chunks queued back to back are copied into one buffer, so that hundreds of
/// small responses ready after one read event still leave in a single `writev` (one iovec each
/// would exceed what one call takes); copying a 100-byte response costs less than its iovec.
struct WriteQueue {
    /// How a flush ended.
    enum FlushOutcome {
        /// Everything was written.
        case drained(written: Int)
        /// The socket's send buffer is full (`EAGAIN`); wait for it to become writable.
        case wouldBlock(written: Int)
        /// A write failed; the connection is broken.
        case failed(NetError)
    }

    /// The most iovecs one `writev` takes (`IOV_MAX` is 1024; this many already fills a send buffer).
    static let maxVectors = 64
    /// In-memory chunks up to this size are coalesced with their small neighbours.
    static let coalescingLimit = 4 * 1024
    /// A coalescing buffer stops growing at this size; the next small chunk starts another.
    static let coalescedBufferLimit = 256 * 1024

    /// What the last queued chunk is, for coalescing.
    private enum Tail {
        /// Nothing to coalesce with (empty queue, a file region or a large chunk).
        case other
        /// A small chunk the caller made (copied into a new buffer when another small one follows).
        case smallForeign
        /// A buffer of this queue's own, appended to in place.
        case coalesced
    }

    private var tail = Tail.other

    private var chunks = Deque<OutboundChunk>()
    /// Bytes of `chunks.first` already written.
    private var headOffset = 0
    /// Bytes queued and not yet written.
    private(set) var pendingBytes = 0
    /// `writev` calls made so far (diagnostics and tests).
    private(set) var writevCalls = 0
    /// `sendfile` calls made so far (diagnostics and tests).
    private(set) var sendfileCalls = 0

    var isEmpty: Bool { chunks.isEmpty }

    /// Queues a chunk behind everything queued before; empty chunks are dropped.
    mutating func append(_ chunk: OutboundChunk) {
        let count = chunk.byteCount
        guard count > 0 else { return }
        pendingBytes += count
        guard case .bytes(let bytes) = chunk, count <= Self.coalescingLimit else {
            chunks.append(chunk)
            tail = .other
            return
        }
        switch tail {
        case .coalesced:
            if case .bytes(var buffer) = chunks.last, buffer.count + count <= Self.coalescedBufferLimit {
                // Drop the queue's reference first so that `buffer` is unique and grows in place.
                chunks.removeLast()
                buffer.append(contentsOf: bytes)
                chunks.append(.bytes(buffer))
                return
            }
            chunks.append(chunk)
            tail = .smallForeign
        case .smallForeign:
            guard case .bytes(let previous) = chunks.removeLast() else {
                preconditionFailure("a small foreign tail is an in-memory chunk")
            }
            // A partly written head keeps its offset: the merged buffer starts with the same bytes.
            var buffer: [UInt8] = []
            buffer.reserveCapacity(max(16 * 1024, previous.count + count))
            buffer.append(contentsOf: previous)
            buffer.append(contentsOf: bytes)
            chunks.append(.bytes(buffer))
            tail = .coalesced
        case .other:
            chunks.append(chunk)
            tail = .smallForeign
        }
    }

    /// Drops everything queued (the connection is closing), releasing file-region owners.
    mutating func removeAll() {
        chunks.removeAll()
        headOffset = 0
        pendingBytes = 0
        tail = .other
    }

    /// Writes as much as the socket takes.
    mutating func flush(to fd: Int32) -> FlushOutcome {
        var written = 0
        while let head = chunks.first {
            let result: IOResult<Int>
            switch head {
            case .file(let region):
                var offset = region.offset + Int64(headOffset)
                // sendfile moves at most 0x7ffff000 bytes per call.
                let count = min(region.count - headOffset, 0x7fff_f000)
                if let changed = region.changedError() { return .failed(changed) }
                sendfileCalls += 1
                result = Syscall.sendfile(to: fd, from: region.descriptor, offset: &offset, count: count)
                if case .processed(0) = result {
                    return .failed(
                        NetError(
                            .ioError,
                            "sendfile: file ended \(region.count - headOffset) bytes before the end of its region"))
                }
                // A truncation during the call may have let other bytes out: stop the stream there.
                if case .processed = result, let changed = region.changedError() { return .failed(changed) }
            case .bytes:
                writevCalls += 1
                result = writeGathered(to: fd)
            }
            switch result {
            case .processed(let count):
                consume(count)
                written += count
            case .wouldBlock:
                return .wouldBlock(written: written)
            case .failed(let error):
                return .failed(error)
            }
        }
        return .drained(written: written)
    }

    /// For TLS, which encrypts before writing: hands up to `limit` bytes from the front to `body`
    /// in order, in pieces, removing each piece `body` accepts (it returns false to stop). File
    /// regions are read into `fileScratch` first (`sendfile` cannot go through TLS).
    /// - Returns: an error when a file region cannot be read.
    mutating func takePlaintext(
        limit: Int, fileScratch: UnsafeMutableRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Bool
    ) -> NetError? {
        var remaining = limit
        while remaining > 0, let head = chunks.first {
            switch head {
            case .bytes(let bytes):
                let count = min(bytes.count - headOffset, remaining)
                let accepted = bytes.withUnsafeBytes { raw in
                    body(UnsafeRawBufferPointer(rebasing: raw[headOffset..<headOffset + count]))
                }
                guard accepted else { return nil }
                consume(count)
                remaining -= count
            case .file(let region):
                guard let base = fileScratch.baseAddress else { return nil }
                let wanted = min(region.count - headOffset, remaining, fileScratch.count)
                switch Syscall.pread(region.descriptor, into: base, count: wanted, offset: region.offset + Int64(headOffset)) {
                case .processed(0):
                    return NetError(
                        .ioError, "file ended \(region.count - headOffset) bytes before the end of its region")
                case .processed(let count):
                    // Checked after the read (a truncation bumps its fence before cutting), so
                    // bytes of another batch are never encrypted and sent.
                    if let changed = region.changedError() { return changed }
                    guard body(UnsafeRawBufferPointer(start: base, count: count)) else { return nil }
                    consume(count)
                    remaining -= count
                case .wouldBlock:
                    return NetError(.ioError, "pread of a file region would block")
                case .failed(let error):
                    return error
                }
            }
        }
        return nil
    }

    /// Marks `count` bytes from the front as written, releasing fully written chunks.
    private mutating func consume(_ count: Int) {
        pendingBytes -= count
        var remaining = count
        while remaining > 0, let head = chunks.first {
            let left = head.byteCount - headOffset
            if remaining >= left {
                remaining -= left
                headOffset = 0
                chunks.removeFirst()
                if chunks.isEmpty { tail = .other }
            } else {
                headOffset += remaining
                remaining = 0
            }
        }
    }

    /// One `writev` of the run of in-memory chunks at the front (up to ``maxVectors``).
    private func writeGathered(to fd: Int32) -> IOResult<Int> {
        var count = 0
        for chunk in chunks.prefix(Self.maxVectors) {
            guard case .bytes = chunk else { break }
            count += 1
        }
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors in
            gather(into: vectors, slot: 0, fd: fd)
        }
    }

    /// Fills `vectors[slot...]` from `chunks[slot...]`, each array pinned by a nested
    /// `withUnsafeBytes`, then writes them all while every array is still pinned.
    private func gather(into vectors: UnsafeMutableBufferPointer<iovec>, slot: Int, fd: Int32) -> IOResult<Int> {
        guard slot < vectors.count else {
            guard let base = vectors.baseAddress else { return .processed(0) }
            return Syscall.writev(fd, base, count: vectors.count)
        }
        guard case .bytes(let bytes) = chunks[slot] else {
            preconditionFailure("writeGathered counted only in-memory chunks")
        }
        return bytes.withUnsafeBytes { raw in
            // Empty chunks are never queued, so a queued array has storage.
            guard let start = raw.baseAddress else { preconditionFailure("empty chunk in the write queue") }
            let skip = slot == 0 ? headOffset : 0
            vectors[slot] = iovec(iov_base: UnsafeMutableRawPointer(mutating: start + skip), iov_len: raw.count - skip)
            return gather(into: vectors, slot: slot + 1, fd: fd)
        }
    }
}
