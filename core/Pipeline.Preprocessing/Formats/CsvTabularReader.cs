using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// CSV and TSV: RFC 4180 quoting (delimiters, newlines and doubled quotes inside quotes), UTF-8 with or without BOM, CRLF,
/// LF or CR line ends. Bytes are validated and decoded in bulk into a block's buffer and split into records there, so a
/// cell is a slice of that buffer, never a string of its own.
/// </summary>
internal sealed class CsvTabularReader : TabularReader
{
    /// <summary>
    /// A record not complete after this many characters is not buffered further: the quote it holds open is taken as
    /// stray (see <see cref="DropUnclosed"/>), or, without one, the file is rejected.
    /// </summary>
    internal const int MaxRecordChars = 1 << 20;

    /// <summary><see cref="SplitQuoted"/>: the file ended inside a quoted field.</summary>
    private const int Unclosed = -2;

    /// <summary>
    /// Characters decoded into a block before it is split into records. 256 K (512 KB, which every column task sweeps)
    /// measured no slower than 512 K in any run: −0.5 to −5% wall at 100 MB, −4 to −8% at 1 GB; 128 K was faster or
    /// slower depending on the host's state, and 64 K slower (docs/benchmarks.md).
    /// </summary>
    private const int BlockChars = 1 << 18;

    private static readonly char[] Candidates = [',', '\t', ';', '|'];

    private readonly Stream _stream;
    private readonly char _delimiter;
    private readonly SearchValues<char> _recordBreaks = SearchValues.Create("\r\n\"");
    private readonly SearchValues<char> _fieldBreaks;
    private readonly byte[] _bytes = new byte[1 << 16];
    private int _byteCount;
    private bool _endOfBytes;
    private char[] _pending = new char[1 << 12];
    private int _pendingLength;
    private long _line = 1;
    private bool _started;
    private bool _pendingHasRecords;

    /// <summary>Where the quote of the last record <see cref="SplitQuoted"/> found no closing quote for opened (-1: none).</summary>
    private int _openQuote = -1;

    private CsvTabularReader(Stream stream, char delimiter)
    {
        _stream = stream;
        _delimiter = delimiter;
        _fieldBreaks = SearchValues.Create([delimiter, '\r', '\n']);
    }

    public static TabularReader Open(Stream stream, char delimiter, string format)
    {
        var reader = new CsvTabularReader(stream, delimiter) { Format = format, Delimiter = delimiter == '\t' ? "\\t" : delimiter.ToString() };
        try
        {
            // The header is the first record that is not blank.
            var block = new RowBlock();
            do
            {
                if (!reader.ReadRecords(block, maxRecords: 1, CancellationToken.None))
                {
                    throw new DatasetRejectedException("empty-file", "The file is empty: a header row and data rows are expected.");
                }
            }
            while (block.IsBlank(0));

            if (block.FieldCount(0) < 0)
            {
                throw new DatasetRejectedException("malformed-csv", $"The header (line {block.Line(0)}) opens a quote that is never closed (a missing '\"').", (int)block.Line(0));
            }

            var columns = new string[block.FieldCount(0)];
            for (var i = 0; i < columns.Length; i++)
            {
                columns[i] = block.Field(0, i).ToString();
            }

            reader.Columns = columns;
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    public override bool ReadBlock(RowBlock block, CancellationToken cancellationToken) => ReadRecords(block, int.MaxValue, cancellationToken);

    private bool ReadRecords(RowBlock block, int maxRecords, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            block.Clear();
            block.EnsureText(_pendingLength + BlockChars + _bytes.Length);
            _pending.AsSpan(0, _pendingLength).CopyTo(block.Text);
            block.TextLength = _pendingLength;
            if (!_pendingHasRecords)
            {
                Decode(block);
            }

            var end = block.TextLength;
            var consumed = Split(block, 0, end, maxRecords);
            var rest = end - consumed;
            while (rest > MaxRecordChars && block.Count < maxRecords)
            {
                // A quote opened a field and 1 M characters later has not closed: taken as stray (DropUnclosed). A record
                // that long without one, or whose quote's line has not ended either, is not CSV.
                var next = _openQuote >= consumed ? DropUnclosed(block, consumed, end, final: false) : -1;
                if (next < 0)
                {
                    throw new DatasetRejectedException("malformed-csv", $"A record starting at line {_line} is longer than {MaxRecordChars / 1024 / 1024} M characters.", (int)_line);
                }

                consumed = Split(block, next, end, maxRecords);
                rest = end - consumed;
            }

            if (_pending.Length < rest)
            {
                _pending = new char[Math.Max(rest, _pending.Length * 2)];
            }

            block.Text.AsSpan(consumed, rest).CopyTo(_pending);
            _pendingLength = rest;

            // Stopped by maxRecords, not by an incomplete record: the next call splits what is left before decoding more.
            _pendingHasRecords = block.Count == maxRecords && rest > 0;
            if (block.Count > 0)
            {
                return true;
            }

            if (_endOfBytes && _byteCount == 0 && rest == 0)
            {
                return false;
            }
        }
    }

    /// <summary>Decodes bytes into the block until it holds <see cref="BlockChars"/> characters or the stream ends.</summary>
    private void Decode(RowBlock block)
    {
        var target = block.TextLength + BlockChars;
        while (block.TextLength < target && !(_endOfBytes && _byteCount == 0))
        {
            if (!_endOfBytes && _byteCount < _bytes.Length)
            {
                var read = _stream.Read(_bytes, _byteCount, _bytes.Length - _byteCount);
                _byteCount += read;
                _endOfBytes = read == 0;
            }

            // Decoded in one call while the bytes are UTF-8; a sequence that is not (a stray byte of another encoding,
            // damage) becomes U+FFFD and is counted, and decoding goes on after it in the same bytes, so a file dense with
            // them costs a call per sequence, not a buffer shift and a read. The dataset builder decides whether the file
            // is UTF-8 with a few bad bytes or in another encoding. Room: the block was made BlockChars and a byte buffer's
            // worth larger than it fills, and a sequence gives at most one character per byte.
            var consumed = 0;
            OperationStatus status;
            while (true)
            {
                status = Utf8.ToUtf16(_bytes.AsSpan(consumed, _byteCount - consumed), block.Text.AsSpan(block.TextLength), out var bytesRead, out var written,
                    replaceInvalidSequences: false, isFinalBlock: _endOfBytes);
                if (!_started)
                {
                    _started = true;
                    var decoded = block.Text.AsSpan(block.TextLength, written);
                    if (decoded.Length > 0 && decoded[0] == '\uFEFF')
                    {
                        decoded[1..].CopyTo(block.Text.AsSpan(block.TextLength));
                        written--;
                    }
                }

                block.TextLength += written;
                consumed += bytesRead;
                if (status != OperationStatus.InvalidData)
                {
                    break;
                }

                CountInvalidSequences(1, InvalidSequences == 0 ? _line + LineBreaks(block.Text.AsSpan(0, block.TextLength)) : 0);

                Rune.DecodeFromUtf8(_bytes.AsSpan(consumed, _byteCount - consumed), out _, out var invalid);
                block.Text[block.TextLength++] = '\uFFFD';
                consumed += Math.Max(1, invalid);
            }

            _byteCount -= consumed;
            _bytes.AsSpan(consumed, _byteCount).CopyTo(_bytes);
            if (status == OperationStatus.NeedMoreData && _endOfBytes)
            {
                _byteCount = 0;
            }
        }
    }

    /// <summary>Line breaks in <paramref name="text"/> as the records count them: LF, CRLF and a lone CR.</summary>
    private static long LineBreaks(ReadOnlySpan<char> text)
    {
        long breaks = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.Length || text[i + 1] != '\n')))
            {
                breaks++;
            }
        }

        return breaks;
    }

    /// <summary>Adds every complete record in Text[from..end) to the block; returns where the first incomplete one starts.</summary>
    private int Split(RowBlock block, int from, int end, int maxRecords)
    {
        var text = block.Text;
        var final = _endOfBytes && _byteCount == 0;
        var position = from;
        _openQuote = -1;
        while (position < end && block.Count < maxRecords)
        {
            var start = position;
            var line = _line;
            var lines = 0;
            var breakAt = text.AsSpan(position, end - position).IndexOfAny(_recordBreaks);
            int recordEnd;
            if (breakAt < 0 || text[position + breakAt] != '"')
            {
                // No quotes before the line end: fields are the text between delimiters. Without a line end yet, or with
                // a CR that an LF may follow in the next text, the record waits for more unless the file has ended.
                recordEnd = breakAt < 0 ? end : position + breakAt;
                if (!final && (breakAt < 0 || (text[recordEnd] == '\r' && recordEnd + 1 == end)))
                {
                    break;
                }

                block.AddFields(position, recordEnd, _delimiter);
            }
            else
            {
                var textLength = block.TextLength;
                recordEnd = SplitQuoted(block, start, end, final, ref lines);
                text = block.Text;
                if (recordEnd < 0)
                {
                    // Neither the cells nor the unescaped text the record added are kept: it is split again, or dropped.
                    block.DiscardOpenRow();
                    block.TextLength = textLength;
                    if (recordEnd != Unclosed)
                    {
                        break;
                    }

                    // The file ends inside a quote: a stray one, or a file cut short.
                    position = DropUnclosed(block, start, end, final: true);
                    continue;
                }
            }

            block.EndRow(line, start, recordEnd - start);
            _line += lines + 1;
            position = recordEnd;
            if (position < end)
            {
                position += text[position] == '\r' && position + 1 < end && text[position + 1] == '\n' ? 2 : 1;
            }
        }

        return position;
    }

    /// <summary>
    /// The record at Text[<paramref name="start"/>] holds a quote (at <see cref="_openQuote"/>) that does not close before
    /// <paramref name="end"/> (the end of the file, or 1 M characters on): the quote is taken as stray. Each line from the
    /// record's first through the quote's becomes an unreadable row (the fields before the quote were read by a pairing
    /// of quotes this one puts in doubt; the report names the quote's line with its text, and the rows count towards the
    /// file's share of unreadable rows), and splitting goes on after the quote's line. Returns where, or -1 when the
    /// quote's line has not ended before <paramref name="end"/> (and the file has not ended).
    /// </summary>
    private int DropUnclosed(RowBlock block, int start, int end, bool final)
    {
        var text = block.Text;
        var quote = _openQuote;
        var rest = text.AsSpan(quote, end - quote).IndexOfAny('\r', '\n');
        if (rest < 0 && !final)
        {
            return -1;
        }

        var quoteLineEnd = rest < 0 ? end : quote + rest;
        var quoteLineStart = start + text.AsSpan(start, quote - start).LastIndexOfAny('\r', '\n') + 1;
        var quoteLine = _line + LineBreaks(text.AsSpan(start, quoteLineStart - start));
        string? inside = null;
        var position = start;
        while (position < quoteLineStart)
        {
            var lineEnd = position + text.AsSpan(position, quoteLineStart - position).IndexOfAny('\r', '\n');
            inside ??= $"in a record whose quote at line {quoteLine} never closes";
            block.AddUnreadable(_line++, inside);
            position = lineEnd + (text[lineEnd] == '\r' && text[lineEnd + 1] == '\n' ? 2 : 1);
        }

        block.AddUnreadable(_line, "unclosed quote: " + RowBlock.Shorten(text.AsSpan(quoteLineStart, quoteLineEnd - quoteLineStart)));
        _openQuote = -1;
        if (quoteLineEnd < end && text[quoteLineEnd] == '\r' && quoteLineEnd + 1 == end && !final)
        {
            // A CR at the end of the text may be half of a CRLF: left to be split as an empty record, which waits for the
            // next text like any record ending there (its line is counted then; the builder skips blank rows).
            return quoteLineEnd;
        }

        _line++;
        if (quoteLineEnd == end)
        {
            return end;
        }

        return quoteLineEnd + (text[quoteLineEnd] == '\r' && quoteLineEnd + 1 < end && text[quoteLineEnd + 1] == '\n' ? 2 : 1);
    }

    /// <summary>
    /// Fields of a record with quotes. Returns the record's end (its line break or <paramref name="end"/>), or -1 when the
    /// record is not complete in Text[start..end). Counts the line breaks inside quotes in <paramref name="lines"/>.
    /// </summary>
    private int SplitQuoted(RowBlock block, int start, int end, bool final, ref int lines)
    {
        var text = block.Text;
        var position = start;
        while (true)
        {
            var fieldStart = position;
            var lead = position;
            while (lead < end && text[lead] is ' ' or '\t' && text[lead] != _delimiter)
            {
                lead++;
            }

            if (lead < end && text[lead] == '"')
            {
                // Quoted: up to the closing quote; "" is a quote. Text after the closing quote up to the delimiter is kept.
                var content = lead + 1;
                var scan = content;
                var escaped = false;
                int close;
                while (true)
                {
                    var quote = text.AsSpan(scan, end - scan).IndexOf('"');
                    if (quote < 0)
                    {
                        _openQuote = lead;
                        return final ? Unclosed : -1;
                    }

                    close = scan + quote;
                    if (close + 1 == end && !final)
                    {
                        return -1;
                    }

                    if (close + 1 < end && text[close + 1] == '"')
                    {
                        escaped = true;
                        scan = close + 2;
                        continue;
                    }

                    break;
                }

                lines += text.AsSpan(content, close - content).Count('\n');
                var after = close + 1;
                var stop = text.AsSpan(after, end - after).IndexOfAny(_fieldBreaks);
                var fieldEnd = stop < 0 ? end : after + stop;
                if (fieldEnd == end && !final)
                {
                    return -1;
                }

                var trailing = text.AsSpan(after, fieldEnd - after).Trim().Length > 0;
                if (escaped || trailing)
                {
                    // Unescape into the block's spare room after the decoded text.
                    var extra = fieldEnd - after;
                    var at = block.AddText(close - content + extra);
                    text = block.Text;
                    var length = 0;
                    for (var i = content; i < close; i++)
                    {
                        text[at + length++] = text[i];
                        if (text[i] == '"')
                        {
                            i++;
                        }
                    }

                    text.AsSpan(after, extra).CopyTo(text.AsSpan(at + length));
                    block.AddCell(at, length + extra);
                }
                else
                {
                    block.AddCell(content, close - content);
                }

                position = fieldEnd;
            }
            else
            {
                var stop = text.AsSpan(fieldStart, end - fieldStart).IndexOfAny(_fieldBreaks);
                var fieldEnd = stop < 0 ? end : fieldStart + stop;
                if (fieldEnd == end && !final)
                {
                    return -1;
                }

                block.AddCell(fieldStart, fieldEnd - fieldStart);
                position = fieldEnd;
            }

            if (position >= end || text[position] != _delimiter)
            {
                if (position < end && text[position] == '\r' && position + 1 == end && !final)
                {
                    return -1;
                }

                return position;
            }

            position++;
        }
    }

    /// <summary>
    /// The candidate (<c>, \t ; |</c>) that occurs most often outside quotes in the first line that is not blank (the
    /// header: the reader skips blank lines before it); comma by default.
    /// </summary>
    public static char DetectDelimiter(ReadOnlySpan<byte> sample)
    {
        Span<int> counts = stackalloc int[Candidates.Length];
        var quoted = false;
        var blank = true;
        if (sample.StartsWith("\uFEFF"u8))
        {
            sample = sample[3..];
        }

        foreach (var b in sample)
        {
            if (b == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && b is (byte)'\n' or (byte)'\r')
            {
                if (!blank)
                {
                    break;
                }

                counts.Clear(); // a line of white space (tabs included) says nothing
                continue;
            }

            if (b is not ((byte)' ' or (byte)'\t'))
            {
                blank = false;
            }

            var k = quoted || b == '"' ? -1 : Array.IndexOf(Candidates, (char)b);
            if (k >= 0)
            {
                counts[k]++;
            }
        }

        var best = 0;
        for (var k = 1; k < counts.Length; k++)
        {
            if (counts[k] > counts[best])
            {
                best = k;
            }
        }

        return counts[best] == 0 ? ',' : Candidates[best];
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stream.Dispose();
        }
    }
}
