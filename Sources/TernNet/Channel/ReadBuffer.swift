/// A connection's input buffer: bytes read from the socket, split into size-prefixed frames
/// (`size u32 big-endian | payload`) or, with a ``FrameDecoder``, into the frames it delimits.
///
/// It is allocated once per connection (64 KiB) and reused for every read. It grows only when a
/// single frame is larger than it (never past the frame limit), compacting first, and shrinks
/// back once emptied if it grew past 1 MiB. A large frame's buffer grows as its bytes arrive
/// (doubling), not to the size its prefix announces: a peer that sends the prefix of a 100 MiB
/// frame and then trickles holds only about twice what it sent. Not thread-safe: it belongs to
/// one ``SocketChannel`` on one loop.
final class ReadBuffer {
    /// What the bytes at the front of the buffer hold.
    enum Frame {
        /// A complete frame's payload; valid until the next ``read(from:)``.
        case complete(UnsafeRawBufferPointer)
        /// Not a whole frame yet.
        case incomplete
        /// A size prefix over the limit.
        case tooLarge(size: Int)
    }

    static let frameHeaderBytes = 4
    /// A buffer grown up to this size is kept when it empties.
    static let retainedCapacity = 1024 * 1024

    private var storage: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// The resident size; frames larger than it need memory from a ``RequestMemoryPool``.
    let initialCapacity: Int
    private let maxFrameBytes: Int
    /// Nil for the native size-prefixed framing.
    private let decoder: (any FrameDecoder)?
    private var readIndex = 0
    private var writeIndex = 0

    /// - Parameters:
    ///   - initialCapacity: the usual size, 64 KiB.
    ///   - maxFrameBytes: the largest payload accepted; a larger size prefix is ``Frame/tooLarge(size:)``.
    ///   - framing: how frames are delimited.
    init(initialCapacity: Int = 64 * 1024, maxFrameBytes: Int, framing: Framing = .lengthPrefixed) {
        precondition(initialCapacity >= Self.frameHeaderBytes && maxFrameBytes >= 0)
        if case .custom(let decoder) = framing { self.decoder = decoder } else { self.decoder = nil }
        self.initialCapacity = initialCapacity
        self.capacity = initialCapacity
        self.maxFrameBytes = maxFrameBytes
        self.storage = .allocate(byteCount: initialCapacity, alignment: 16)
    }

    deinit {
        storage.deallocate()
    }

    /// Bytes read but not yet handed out as frames.
    var unconsumedBytes: Int { writeIndex - readIndex }

    /// Takes the next frame off the front of the buffer, if it is complete.
    func nextFrame() -> Frame {
        if let decoder { return nextDecodedFrame(decoder) }
        guard let size = frameSizeAtFront() else { return .incomplete }
        guard size <= maxFrameBytes else { return .tooLarge(size: size) }
        let total = Self.frameHeaderBytes + size
        guard writeIndex - readIndex >= total else { return .incomplete }
        let payload = UnsafeRawBufferPointer(start: storage + readIndex + Self.frameHeaderBytes, count: size)
        readIndex += total
        return .complete(payload)
    }

    /// Up to `count` bytes at the front, not consumed (to recognise a TLS record where a frame
    /// was expected).
    func peek(_ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + readIndex, count: min(count, writeIndex - readIndex))
    }

    /// The whole size (prefix included) of the frame at the front, when its size prefix has
    /// arrived but not all of the frame; nil otherwise (or with a custom framing).
    var incompleteFrameBytes: Int? {
        guard decoder == nil, let size = frameSizeAtFront(), size <= maxFrameBytes else { return nil }
        let total = Self.frameHeaderBytes + size
        return writeIndex - readIndex < total ? total : nil
    }

    /// The capacity the next ``read(from:)`` will read into (after growing for the frame at the
    /// front); what a ``RequestMemoryPool`` must cover before that read.
    var capacityForNextRead: Int {
        let (_, grown) = layoutForNextRead()
        return grown
    }

    /// Whether ``nextFrame()`` would return something other than `.incomplete`.
    var hasFrame: Bool {
        if let decoder {
            guard writeIndex > readIndex else { return false }
            if writeIndex - readIndex >= maxFrameBytes { return true }
            return decoder.boundary(in: UnsafeRawBufferPointer(start: storage + readIndex, count: writeIndex - readIndex))
                != .incomplete
        }
        guard let size = frameSizeAtFront() else { return false }
        return size > maxFrameBytes || writeIndex - readIndex >= Self.frameHeaderBytes + size
    }

    /// One `read(2)` into the free space; `.processed(0)` is end of input. Invalidates the payload
    /// pointers handed out before.
    func read(from fd: Int32) -> IOResult<Int> {
        read { Syscall.read(fd, into: $0, count: $1) }
    }

    /// Like ``read(from:)``, with `fill` doing the read (TLS decrypts into the buffer).
    func read(using fill: (UnsafeMutableRawPointer, Int) -> IOResult<Int>) -> IOResult<Int> {
        prepareForRead()
        // A full buffer would hold a complete frame, which is handed over before reading again;
        // reading zero bytes would look like end of input.
        precondition(writeIndex < capacity, "read buffer full while holding a complete frame")
        let result = fill(storage + writeIndex, capacity - writeIndex)
        if case .processed(let count) = result {
            writeIndex += count
        }
        return result
    }

    /// A frame as the decoder delimits it; input that reaches the frame limit undelimited is
    /// ``Frame/tooLarge(size:)``.
    private func nextDecodedFrame(_ decoder: any FrameDecoder) -> Frame {
        let available = writeIndex - readIndex
        guard available > 0 else { return .incomplete }
        let bytes = UnsafeRawBufferPointer(start: storage + readIndex, count: available)
        switch decoder.boundary(in: bytes) {
        case .complete(let length):
            // A decoder claiming bytes it was not given, or none, is a programming error.
            precondition(length > 0 && length <= available, "frame decoder returned length \(length) of \(available)")
            readIndex += length
            return .complete(UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
        case .incomplete:
            return available >= maxFrameBytes ? .tooLarge(size: available) : .incomplete
        }
    }

    private func frameSizeAtFront() -> Int? {
        guard writeIndex - readIndex >= Self.frameHeaderBytes else { return nil }
        let size = UInt32(bigEndian: (storage + readIndex).loadUnaligned(as: UInt32.self))
        return Int(size)
    }

    /// Makes room for the next read: reset when empty, compact when the frame at the front cannot
    /// fit behind it or little space is left, grow when that frame is larger than the buffer.
    private func prepareForRead() {
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
            // Give back a buffer grown for a big frame, but keep one grown moderately: frames just
            // over 64 KiB would otherwise reallocate on every read.
            if capacity > max(initialCapacity, Self.retainedCapacity) { reallocate(capacity: initialCapacity) }
        }
        let (compact, grown) = layoutForNextRead()
        if compact {
            let count = writeIndex - readIndex
            storage.copyMemory(from: storage + readIndex, byteCount: count)
            readIndex = 0
            writeIndex = count
        }
        if grown > capacity { reallocate(capacity: grown) }
    }

    /// What ``prepareForRead()`` will do, without doing it: whether it compacts, and the capacity
    /// after it. A frame larger than the buffer grows it only once the buffer is nearly full of
    /// that frame's bytes, to twice the size (at most the frame), so memory follows the bytes
    /// that arrived rather than the size announced.
    private func layoutForNextRead() -> (compact: Bool, capacity: Int) {
        let buffered = writeIndex - readIndex
        // An empty buffer restarts at the front (after shrinking, in prepareForRead); no growth.
        guard buffered > 0 else { return (false, capacity) }
        var needed = Self.frameHeaderBytes
        if decoder != nil {
            // The decoder has not found a boundary: room for at least one more byte.
            needed = buffered + 1
        } else if let size = frameSizeAtFront(), size <= maxFrameBytes {
            needed = Self.frameHeaderBytes + size
        }
        let minimumRead = min(8 * 1024, capacity / 8)
        let compact = readIndex > 0 && (capacity - readIndex < needed || capacity - writeIndex < minimumRead)
        guard capacity < needed else { return (compact, capacity) }
        let freeAfterCompaction = capacity - (compact ? buffered : writeIndex)
        guard freeAfterCompaction < minimumRead || decoder != nil else { return (compact, capacity) }
        let maxCapacity = Self.frameHeaderBytes + maxFrameBytes
        let grown = decoder != nil ? max(needed, capacity * 2) : min(needed, capacity * 2)
        return (compact, min(grown, maxCapacity))
    }

    private func reallocate(capacity newCapacity: Int) {
        let count = writeIndex - readIndex
        precondition(newCapacity >= count)
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newStorage.copyMemory(from: storage + readIndex, byteCount: count)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
        readIndex = 0
        writeIndex = count
    }
}
