using System.Text.Json;

namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// JSON Lines: one object per line; the first object's keys are the columns. A missing key or <c>null</c> is a missing
/// value, keys not in the first object are ignored, a line that is not a JSON object is an unreadable row.
/// </summary>
internal sealed class JsonLinesTabularReader : RowTabularReader
{
    private readonly TextReader _text;
    private readonly BoundedLineReader _lines;
    private readonly CountingReplacementFallback _invalid;
    private readonly Dictionary<string, int> _index;
    private readonly string[] _fields;
    private string? _pending;
    private long _pendingLine;
    private long _line;
    private int _fieldCount;
    private string _raw = "";

    private JsonLinesTabularReader(TextReader text, BoundedLineReader lines, CountingReplacementFallback invalid, string[] columns, string firstLine, long firstLineNumber, long lineBeforeFirst)
    {
        _text = text;
        _lines = lines;
        _invalid = invalid;
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < columns.Length; i++)
        {
            _index.TryAdd(columns[i], i);
        }

        _fields = new string[columns.Length];
        _pending = firstLine;
        _pendingLine = firstLineNumber;
        _line = lineBeforeFirst;
    }

    protected override int FieldCount => _fieldCount;

    protected override long Line => _line;

    public static TabularReader Open(Stream stream, string format)
    {
        // Bytes that are not UTF-8 are read as U+FFFD and counted (the dataset builder warns, or rejects a file in another encoding).
        var invalid = new CountingReplacementFallback();
        var text = new StreamReader(stream, invalid.Utf8(), true, 1 << 16, leaveOpen: false);
        var lines = new BoundedLineReader(text, CsvTabularReader.MaxRecordChars, "malformed-jsonl");
        try
        {
            long line = 0;
            string? first;
            do
            {
                first = lines.ReadLine(++line);
            }
            while (first is not null && string.IsNullOrWhiteSpace(first));

            if (first is null)
            {
                throw new DatasetRejectedException("empty-file", "The file is empty: one JSON object per line is expected.");
            }

            List<string> columns;
            try
            {
                using var document = JsonDocument.Parse(first);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new DatasetRejectedException("malformed-jsonl", $"Line {line} is a JSON {document.RootElement.ValueKind}, not an object; JSON Lines files hold one object per line.", (int)line);
                }

                columns = document.RootElement.EnumerateObject().Select(p => p.Name.Trim()).ToList();
            }
            catch (JsonException e)
            {
                throw new DatasetRejectedException("malformed-jsonl", $"Line {line} is not valid JSON: {e.Message}", (int)line);
            }

            return new JsonLinesTabularReader(text, lines, invalid, [.. columns], first, line, line - 1) { Columns = columns, Format = format };
        }
        catch
        {
            text.Dispose();
            throw;
        }
    }

    protected override bool Read(CancellationToken cancellationToken)
    {
        string? line;
        if (_pending is not null)
        {
            line = _pending;
            _line = _pendingLine;
            _pending = null;
        }
        else
        {
            do
            {
                line = _lines.ReadLine(_line + 1);
                _line++;
            }
            while (line is not null && string.IsNullOrWhiteSpace(line));
        }

        if (line is null)
        {
            return false;
        }

        // The text is decoded ahead of the lines: a sequence counted so far is in this line or a later one.
        var counted = _invalid.Count;
        if (counted > InvalidSequences && (InvalidSequences > 0 || line.Contains('\uFFFD', StringComparison.Ordinal)))
        {
            CountInvalidSequences(counted - InvalidSequences, _line);
        }

        _raw = line;
        Array.Fill(_fields, "");
        try
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                _fieldCount = -1;
                return true;
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (_index.TryGetValue(property.Name.Trim(), out var i))
                {
                    _fields[i] = property.Value.ValueKind switch
                    {
                        JsonValueKind.String => property.Value.GetString()!.Trim(),
                        JsonValueKind.Null => "",
                        JsonValueKind.True => "true",
                        JsonValueKind.False => "false",
                        _ => property.Value.GetRawText(),
                    };
                }
            }

            _fieldCount = _fields.Length;
        }
        catch (JsonException)
        {
            _fieldCount = -1;
        }

        return true;
    }

    protected override ReadOnlySpan<char> GetField(int ordinal) => _fields[ordinal];

    protected override string RowText => _raw.Length > 200 ? RowBlock.Shorten(_raw) : _raw;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _text.Dispose();
        }
    }
}
