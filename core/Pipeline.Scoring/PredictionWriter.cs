using System.Buffers;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;
using Pipeline.Preprocessing.Formats;

namespace Pipeline.Scoring;

/// <summary>
/// Writes scored rows: the input's columns as read, then <c>prediction</c> (the label, or the value) and, for
/// classification, <c>probability_{label}</c> per class. A prediction column whose name the input already uses gets a
/// leading '_' until it is unique.
/// </summary>
public abstract class PredictionWriter : IAsyncDisposable
{
    public const string PredictionColumn = "prediction";
    public const string ProbabilityPrefix = "probability_";

    protected PredictionWriter(IReadOnlyList<string> inputColumns, ScoringModel model)
    {
        ArgumentNullException.ThrowIfNull(inputColumns);
        ArgumentNullException.ThrowIfNull(model);
        InputColumns = inputColumns;
        Model = model;
        var taken = new HashSet<string>(inputColumns, StringComparer.Ordinal);
        List<string> names = [Unique(PredictionColumn, taken)];
        if (model.IsClassification)
        {
            names.AddRange(model.Labels.Select(l => Unique(ProbabilityPrefix + l, taken)));
        }

        PredictionColumns = names;
    }

    protected IReadOnlyList<string> InputColumns { get; }

    protected ScoringModel Model { get; }

    /// <summary>The output's prediction columns: <c>prediction</c>, then one probability per class (classification).</summary>
    public IReadOnlyList<string> PredictionColumns { get; }

    /// <summary>Writes row <paramref name="row"/> of <paramref name="block"/> with its model output (<see cref="ScoringModel.OutputWidth"/> values).</summary>
    public abstract void Write(RowBlock block, int row, ReadOnlySpan<float> output);

    /// <summary>The writer buffers rows (Parquet) and can take no more until <see cref="FlushAsync"/>.</summary>
    public virtual bool IsFull => false;

    /// <summary>Writes buffered rows out (Parquet: a row group).</summary>
    public virtual ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Writes what is buffered and the format's trailer; the stream is then complete.</summary>
    public abstract ValueTask CompleteAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    /// <summary>The index of the largest value: the predicted class.</summary>
    protected static int ArgMax(ReadOnlySpan<float> output)
    {
        var best = 0;
        for (var k = 1; k < output.Length; k++)
        {
            if (output[k] > output[best])
            {
                best = k;
            }
        }

        return best;
    }

    private static string Unique(string name, HashSet<string> taken)
    {
        while (!taken.Add(name))
        {
            name = "_" + name;
        }

        return name;
    }
}

/// <summary>
/// CSV input's records as they stand, then the predictions with the input's delimiter; header names and labels holding
/// the delimiter, a quote or a line break are quoted.
/// </summary>
public sealed class CsvPredictionWriter : PredictionWriter
{
    private readonly StreamWriter _writer;
    private readonly char _delimiter;
    private readonly char[] _special;
    private readonly char[] _number = new char[32];

    public CsvPredictionWriter(Stream stream, char delimiter, IReadOnlyList<string> inputColumns, ScoringModel model)
        : base(inputColumns, model)
    {
        _writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16);
        _delimiter = delimiter;
        _special = [delimiter, '"', '\r', '\n'];
        var first = true;
        foreach (var name in inputColumns.Concat(PredictionColumns))
        {
            if (!first)
            {
                _writer.Write(_delimiter);
            }

            WriteField(name);
            first = false;
        }

        _writer.Write('\n');
    }

    public override void Write(RowBlock block, int row, ReadOnlySpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(block);
        // The record as it stands in the input (quotes and all): nothing to split, unescape or quote again.
        _writer.Write(block.Raw(row));
        _writer.Write(_delimiter);
        if (Model.IsClassification)
        {
            WriteField(Model.Labels[ArgMax(output)]);
            foreach (var p in output)
            {
                _writer.Write(_delimiter);
                WriteNumber(p);
            }
        }
        else
        {
            WriteNumber(output[0]);
        }

        _writer.Write('\n');
    }

    public override async ValueTask CompleteAsync(CancellationToken cancellationToken) => await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);

    public override ValueTask DisposeAsync() => _writer.DisposeAsync();

    private void WriteNumber(float value)
    {
        FloatText.TryFormat(value, _number, out var written);
        _writer.Write(_number, 0, written);
    }

    private void WriteField(ReadOnlySpan<char> value)
    {
        if (value.IndexOfAny(_special) < 0)
        {
            _writer.Write(value);
            return;
        }

        _writer.Write('"');
        foreach (var c in value)
        {
            if (c == '"')
            {
                _writer.Write('"');
            }

            _writer.Write(c);
        }

        _writer.Write('"');
    }
}

/// <summary>
/// JSON Lines: one object per row. The readers hand cells over as text, so a cell is written back as a JSON number when
/// its text is a JSON number literal, as <c>true</c>/<c>false</c>, as <c>null</c> when empty, and as a string otherwise.
/// </summary>
public sealed class JsonLinesPredictionWriter : PredictionWriter
{
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;
    private readonly JsonEncodedText[] _inputNames;
    private readonly JsonEncodedText[] _predictionNames;
    private readonly JsonEncodedText[] _labels;

    public JsonLinesPredictionWriter(Stream stream, IReadOnlyList<string> inputColumns, ScoringModel model)
        : base(inputColumns, model)
    {
        _stream = new BufferedStream(stream, 1 << 16);
        _json = new Utf8JsonWriter(_stream, new JsonWriterOptions { SkipValidation = true });
        _inputNames = [.. inputColumns.Select(n => JsonEncodedText.Encode(n))];
        _predictionNames = [.. PredictionColumns.Select(n => JsonEncodedText.Encode(n))];
        _labels = [.. model.Labels.Select(l => JsonEncodedText.Encode(l))];
    }

    public override void Write(RowBlock block, int row, ReadOnlySpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(block);
        _json.WriteStartObject();
        for (var c = 0; c < _inputNames.Length; c++)
        {
            var cell = block.Field(row, c);
            if (cell.Length == 0)
            {
                _json.WriteNull(_inputNames[c]);
            }
            else if (cell is "true" or "false")
            {
                _json.WriteBoolean(_inputNames[c], cell[0] == 't');
            }
            else if (IsJsonNumber(cell))
            {
                _json.WritePropertyName(_inputNames[c]);
                WriteRawNumber(cell);
            }
            else
            {
                _json.WriteString(_inputNames[c], cell);
            }
        }

        if (Model.IsClassification)
        {
            _json.WriteString(_predictionNames[0], _labels[ArgMax(output)]);
            for (var k = 0; k < output.Length; k++)
            {
                WriteNumber(_predictionNames[k + 1], output[k]);
            }
        }
        else
        {
            WriteNumber(_predictionNames[0], output[0]);
        }

        _json.WriteEndObject();
        _json.Flush();
        _stream.WriteByte((byte)'\n');
        _json.Reset();
    }

    public override async ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        await _json.FlushAsync(cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask DisposeAsync()
    {
        await _json.DisposeAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    private void WriteNumber(JsonEncodedText name, float value)
    {
        Span<char> text = stackalloc char[32];
        FloatText.TryFormat(value, text, out var written);
        _json.WritePropertyName(name);
        WriteRawNumber(text[..written]);
    }

    private void WriteRawNumber(ReadOnlySpan<char> cell)
    {
        Span<byte> utf8 = stackalloc byte[cell.Length];
        for (var i = 0; i < cell.Length; i++)
        {
            utf8[i] = (byte)cell[i];
        }

        _json.WriteRawValue(utf8, skipInputValidation: true);
    }

    /// <summary>RFC 8259's number grammar: <c>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</c>, at most 64 characters.</summary>
    internal static bool IsJsonNumber(ReadOnlySpan<char> s)
    {
        if (s.Length is 0 or > 64)
        {
            return false;
        }

        var i = s[0] == '-' ? 1 : 0;
        if (i == s.Length || !char.IsAsciiDigit(s[i]))
        {
            return false;
        }

        if (s[i] == '0')
        {
            i++;
        }
        else
        {
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }
        }

        if (i < s.Length && s[i] == '.')
        {
            var start = ++i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            if (i == start)
            {
                return false;
            }
        }

        if (i < s.Length && s[i] is 'e' or 'E')
        {
            i++;
            if (i < s.Length && s[i] is '+' or '-')
            {
                i++;
            }

            var start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            if (i == start)
            {
                return false;
            }
        }

        return i == s.Length;
    }
}

/// <summary>
/// Parquet: the input's columns as (nullable) strings — the readers hand cells over as text — then <c>prediction</c> (a
/// string label, or a float value) and the class probabilities as floats, in row groups of
/// <see cref="ScoringOptions.ParquetRowGroupRows"/> rows.
/// </summary>
public sealed class ParquetPredictionWriter : PredictionWriter
{
    private readonly Stream _stream;
    private readonly int _rowGroupRows;
    private readonly DataField[] _fields;
    private readonly string?[][] _inputs;
    private readonly string?[] _labels;
    private readonly float[][] _outputs;
    private ParquetWriter? _writer;
    private int _count;

    public ParquetPredictionWriter(Stream stream, int rowGroupRows, IReadOnlyList<string> inputColumns, ScoringModel model)
        : base(inputColumns, model)
    {
        _stream = stream;
        _rowGroupRows = rowGroupRows;
        List<DataField> fields = [.. inputColumns.Select(n => new DataField<string>(n))];
        if (model.IsClassification)
        {
            fields.Add(new DataField<string>(PredictionColumns[0]));
            fields.AddRange(PredictionColumns.Skip(1).Select(n => new DataField<float>(n)));
        }
        else
        {
            fields.Add(new DataField<float>(PredictionColumns[0]));
        }

        _fields = [.. fields];
        _inputs = [.. inputColumns.Select(_ => new string?[rowGroupRows])];
        _labels = new string?[model.IsClassification ? rowGroupRows : 0];
        _outputs = [.. Enumerable.Range(0, model.OutputWidth).Select(_ => new float[rowGroupRows])];
    }

    public override void Write(RowBlock block, int row, ReadOnlySpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (_count == _rowGroupRows)
        {
            throw new InvalidOperationException("The row group is full; FlushAsync writes it.");
        }

        for (var c = 0; c < _inputs.Length; c++)
        {
            var cell = block.Field(row, c);
            _inputs[c][_count] = cell.Length == 0 ? null : cell.ToString();
        }

        if (Model.IsClassification)
        {
            _labels[_count] = Model.Labels[ArgMax(output)];
        }

        for (var k = 0; k < output.Length; k++)
        {
            _outputs[k][_count] = output[k];
        }

        _count++;
    }

    public override bool IsFull => _count == _rowGroupRows;

    /// <summary>Writes the buffered rows as a row group.</summary>
    public override async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        _writer ??= await ParquetWriter.CreateAsync(new ParquetSchema(_fields), _stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (_count == 0)
        {
            return;
        }

        using var group = _writer.CreateRowGroup();
        var f = 0;
        foreach (var column in _inputs)
        {
            await group.WriteAsync(_fields[f++], new ArraySegment<string>(column!, 0, _count)).ConfigureAwait(false);
        }

        if (Model.IsClassification)
        {
            await group.WriteAsync(_fields[f++], new ArraySegment<string>(_labels!, 0, _count)).ConfigureAwait(false);
        }

        foreach (var column in _outputs)
        {
            await group.WriteAsync<float>(_fields[f++], column.AsMemory(0, _count), cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        foreach (var column in _inputs)
        {
            Array.Clear(column, 0, _count);
        }

        _count = 0;
    }

    public override async ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
            _writer = null;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
