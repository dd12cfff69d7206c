import Synchronization

/// A region of one segment file holding consecutive whole batches, to send as it is (with
/// `sendfile(2)` on plain TCP). `file` keeps the descriptor open for as long as the slice lives,
/// even if the log is truncated or deleted meanwhile.
///
/// A truncation may cut the file and later appends write other batches at the same positions:
/// whoever sends the slice checks ``isCurrent`` before and after reading its bytes, and fails
/// (never sends) when it turned false (PartitionLog+Truncate).
public struct LogSlice: Sendable {
    /// The segment file.
    public let file: SegmentFile
    /// Where the region starts in the file.
    public let position: Int64
    /// Bytes in the region.
    public let count: Int
    /// The segment's read fence and its value when the read was planned (nil: not fenced).
    let fence: SegmentHandle?
    let fenceValue: UInt64

    /// Creates a slice (not fenced against truncation: for regions a caller knows stay put).
    public init(file: SegmentFile, position: Int64, count: Int) {
        self.init(file: file, position: position, count: count, fence: nil, fenceValue: 0)
    }

    init(file: SegmentFile, position: Int64, count: Int, fence: SegmentHandle?, fenceValue: UInt64) {
        self.file = file
        self.position = position
        self.count = count
        self.fence = fence
        self.fenceValue = fenceValue
    }

    /// False once a truncation has cut or deleted the segment since the slice was planned: its
    /// bytes may now belong to other batches. One atomic load.
    public var isCurrent: Bool {
        guard let fence else { return true }
        return fence.truncations.load(ordering: .sequentiallyConsistent) == fenceValue
    }
}

/// What a read found.
public struct ReadResult: Sendable {
    /// Consecutive whole batches, in offset order; empty when nothing at or after the offset is
    /// below the read's `maxOffset`.
    public var slices: [LogSlice]
    /// Total bytes of the slices.
    public var byteCount: Int
    /// The log start offset when the read was made.
    public var logStartOffset: Int64
    /// The log end offset when the read was made.
    public var logEndOffset: Int64
    /// Records in the slices (the sum of their batch headers' record counts).
    public var recordCount: Int

    /// Creates a result.
    public init(slices: [LogSlice], byteCount: Int, logStartOffset: Int64, logEndOffset: Int64, recordCount: Int = 0) {
        self.slices = slices
        self.byteCount = byteCount
        self.recordCount = recordCount
        self.logStartOffset = logStartOffset
        self.logEndOffset = logEndOffset
    }

    /// Reads the slices into memory (for TLS connections and tests).
    /// - Throws: `logTruncated` when a truncation changed a slice's file since the read was
    ///   planned (retry the read); `ioError` when a read fails or a file turns out shorter than
    ///   the slice.
    public func readBytes() throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: byteCount)
        var filled = 0
        for slice in slices {
            let start = filled
            let got = try bytes.withUnsafeMutableBytes { raw in
                try FileSystem.pread(
                    slice.file.fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[start..<start + slice.count]),
                    at: slice.position, path: slice.file.path)
            }
            // Checked after the read: a truncation that began before it bumped the fence first.
            guard slice.isCurrent else {
                throw StorageError(
                    .logTruncated,
                    "\(slice.file.path) was truncated after this read was planned (position \(slice.position))")
            }
            guard got == slice.count else {
                throw StorageError(
                    .ioError,
                    "\(slice.file.path) ended at \(slice.position + Int64(got)), inside a slice of "
                        + "\(slice.count) bytes at \(slice.position)"
                )
            }
            filled += got
        }
        return bytes
    }
}
