/// Splits a byte stream, fed in chunks, into lines.
///
/// Lines end at `\n`; a `\r` before it is dropped too (Windows line endings), and a last line
/// without a newline is still a line. Lines that span chunks are carried over, so the caller's
/// chunk size does not matter.
struct LineSplitter {
    private var carry: [UInt8] = []

    /// Calls `emit` with each complete line in `chunk` (after any carried-over start).
    mutating func feed(_ chunk: [UInt8], _ emit: (ArraySlice<UInt8>) -> Void) {
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if carry.isEmpty {
                emit(Self.trimCR(chunk[start..<newline]))
            } else {
                carry.append(contentsOf: chunk[start..<newline])
                emit(Self.trimCR(carry[...]))
                carry.removeAll(keepingCapacity: true)
            }
            start = newline + 1
        }
        carry.append(contentsOf: chunk[start...])
    }

    /// Calls `emit` with the last line when the input did not end with a newline.
    mutating func finish(_ emit: (ArraySlice<UInt8>) -> Void) {
        guard !carry.isEmpty else { return }
        emit(Self.trimCR(carry[...]))
        carry.removeAll()
    }

    private static func trimCR(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        line.last == UInt8(ascii: "\r") ? line.dropLast() : line
    }
}

/// A line split into key and value at the first separator.
enum KeyedLine {
    /// The part before the first `separator` is the key and the rest the value; a line without
    /// the separator has no key (nil) and is all value. With no separator configured, every line
    /// is all value.
    static func split(_ line: ArraySlice<UInt8>, separator: [UInt8]?) -> (key: ArraySlice<UInt8>?, value: ArraySlice<UInt8>) {
        guard let separator, let first = separator.first, !line.isEmpty else { return (nil, line) }
        var index = line.startIndex
        while let candidate = line[index...].firstIndex(of: first) {
            let end = candidate + separator.count
            if end <= line.endIndex, line[candidate..<end].elementsEqual(separator) {
                return (line[line.startIndex..<candidate], line[end...])
            }
            index = candidate + 1
        }
        return (nil, line)
    }
}
