import CZlib

/// gzip (RFC 1952) through the system zlib: the codec of record batches with compression 1.
public enum Gzip {
    /// Compresses `input` into a gzip member.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        let initialized = tern_deflate_init_gzip(&stream, level)
        precondition(initialized == Z_OK, "deflateInit2 failed: \(initialized)")  // only fails on bad arguments or no memory
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out -> Int in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(out.count)
            let result = deflate(&stream, Z_FINISH)
            precondition(result == Z_STREAM_END, "deflate into a deflateBound buffer must finish: \(result)")
            return out.count - Int(stream.avail_out)
        }
        output.removeLast(output.count - written)
        return output
    }

    /// Decompresses a gzip member, refusing to produce more than `limit` bytes (a decompression
    /// bomb) and refusing corrupt or truncated input.
    /// - Throws: ``WireError`` `.malformed` saying what zlib found wrong.
    public static func decompress(_ input: UnsafeRawBufferPointer, limit: Int) throws(WireError) -> [UInt8] {
        var stream = z_stream()
        guard tern_inflate_init_gzip(&stream) == Z_OK else { throw WireError(.malformed, "gzip: inflateInit failed") }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        var output = [UInt8](repeating: 0, count: min(max(input.count * 4, 4096), max(limit, 1)))
        var produced = 0
        while true {
            if produced == output.count {
                guard output.count < limit else {
                    throw WireError(.malformed, "gzip: decompresses to more than \(limit) bytes")
                }
                output = grown(output, to: min(output.count * 2, limit))
            }
            let result = output.withUnsafeMutableBytes { out -> Int32 in
                stream.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self).advanced(by: produced)
                stream.avail_out = uInt(out.count - produced)
                let result = inflate(&stream, Z_NO_FLUSH)
                produced = out.count - Int(stream.avail_out)
                return result
            }
            switch result {
            case Z_STREAM_END:
                guard stream.avail_in == 0 else {
                    throw WireError(.malformed, "gzip: \(stream.avail_in) bytes after the end of the compressed data")
                }
                output.removeLast(output.count - produced)
                return output
            case Z_OK:
                continue
            case Z_BUF_ERROR where produced < output.count:
                // No progress with room to write: the input ended before the stream did.
                throw WireError(.malformed, "gzip: compressed data is truncated")
            case Z_BUF_ERROR:
                continue  // output full: grow and go on
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(result)"
                throw WireError(.malformed, "gzip: corrupt compressed data (\(reason))")
            }
        }
    }

    /// `bytes` copied into a larger array of `count` bytes whose tail is left for inflate to
    /// write: one `memcpy`, where appending zeros element by element took ~30 s for a 64 MiB
    /// bomb in a debug build. The tail is never read before inflate has written it.
    private static func grown(_ bytes: [UInt8], to count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBufferPointer { old in
                if let source = old.baseAddress, let target = buffer.baseAddress {
                    target.initialize(from: source, count: old.count)
                }
            }
            initialized = count
        }
    }
}
