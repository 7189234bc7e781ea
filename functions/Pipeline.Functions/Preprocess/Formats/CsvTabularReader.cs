using System.Text;
using Sylvan.Data.Csv;

namespace Pipeline.Functions.Preprocess.Formats;

/// <summary>CSV and TSV through Sylvan: RFC 4180 quoting (delimiters and newlines inside quotes), UTF-8 with or without BOM, CRLF or LF.</summary>
internal sealed class CsvTabularReader : TabularReader
{
    private static readonly char[] Candidates = [',', '\t', ';', '|'];

    private readonly CsvDataReader _reader;
    private readonly TextReader _text;
    private long _line = 1;

    private CsvTabularReader(CsvDataReader reader, TextReader text)
    {
        _reader = reader;
        _text = text;
    }

    public override int FieldCount => _reader.RowFieldCount;

    public override long Line => _line;

    public static async Task<TabularReader> OpenAsync(Stream stream, char delimiter, string format, CancellationToken cancellationToken)
    {
        // Invalid UTF-8 throws instead of turning into U+FFFD: binary uploads are rejected, not half-read.
        var text = new StreamReader(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true),
            detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16, leaveOpen: false);
        try
        {
            var options = new CsvDataReaderOptions { HasHeaders = true, Delimiter = delimiter, BufferSize = 1 << 16, MaxBufferSize = 1 << 20 };
            var reader = await CsvDataReader.CreateAsync(text, options, cancellationToken).ConfigureAwait(false);
            if (reader.FieldCount == 0)
            {
                throw new DatasetRejectedException("empty-file", "The file is empty: a header row and data rows are expected.");
            }

            var columns = new string[reader.FieldCount];
            for (var i = 0; i < columns.Length; i++)
            {
                columns[i] = reader.GetName(i).Trim();
            }

            return new CsvTabularReader(reader, text) { Columns = columns, Format = format, Delimiter = delimiter == '\t' ? "\\t" : delimiter.ToString() };
        }
        catch (Exception e) when (Translate(e, 1) is { } rejection)
        {
            text.Dispose();
            throw rejection;
        }
        catch
        {
            text.Dispose();
            throw;
        }
    }

    public override bool Read(CancellationToken cancellationToken)
    {
        try
        {
            if (!_reader.Read())
            {
                return false;
            }
        }
        catch (Exception e) when (Translate(e, _line + 1) is { } rejection)
        {
            throw rejection;
        }

        _line++;
        return true;
    }

    public override ReadOnlySpan<char> GetField(int ordinal) => _reader.GetFieldSpan(ordinal).Trim();

    public override string DescribeRow()
    {
        var text = new StringBuilder();
        for (var i = 0; i < FieldCount && text.Length < 200; i++)
        {
            if (i > 0)
            {
                text.Append(Delimiter == "\\t" ? '\t' : Delimiter![0]);
            }

            text.Append(_reader.GetFieldSpan(i));
        }

        return text.Length > 200 ? text.ToString(0, 200) + "…" : text.ToString();
    }

    /// <summary>The candidate (<c>, \t ; |</c>) that occurs most often outside quotes in the first line; comma by default.</summary>
    public static char DetectDelimiter(ReadOnlySpan<byte> sample)
    {
        Span<int> counts = stackalloc int[Candidates.Length];
        var quoted = false;
        foreach (var b in sample)
        {
            if (b == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && b is (byte)'\n' or (byte)'\r')
            {
                break;
            }
            else if (!quoted)
            {
                var k = Array.IndexOf(Candidates, (char)b);
                if (k >= 0)
                {
                    counts[k]++;
                }
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

    private static DatasetRejectedException? Translate(Exception e, long line) => e switch
    {
        DatasetRejectedException rejected => rejected,
        DecoderFallbackException => new DatasetRejectedException("binary-content", "The file is not UTF-8 text (it looks binary). Upload UTF-8 CSV, TSV or JSON Lines, or Parquet.", (int)line),
        CsvMissingHeadersException => new DatasetRejectedException("empty-file", "The file is empty: a header row and data rows are expected."),
        CsvRecordTooLargeException => new DatasetRejectedException("malformed-csv", $"A record near line {line} is larger than 1 MB (an unterminated quote?).", (int)line),
        CsvFormatException f => new DatasetRejectedException("malformed-csv", $"The file is not well-formed CSV near line {line}: {f.Message}", (int)line),
        _ => null,
    };

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _reader.Dispose();
            _text.Dispose();
        }
    }
}
