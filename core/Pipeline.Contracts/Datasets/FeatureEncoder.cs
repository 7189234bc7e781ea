using System.Globalization;
using System.Text.Json;
using Pipeline.Contracts;

namespace Pipeline.Datasets;

/// <summary>
/// Turns raw column values into model features by the <see cref="ColumnEncoding"/> rules of a dataset version: numbers as
/// they are, booleans as 0/1, categories one-hot (unknown categories go to "other", never an error), datetimes as their parts.
/// Missing or unreadable values get the column's train-split imputation values. One instance per dataset or model version;
/// thread-safe for reading.
/// </summary>
public sealed class FeatureEncoder
{
    private readonly ColumnEncoding[] _columns;
    private readonly int[] _offsets;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>>[] _categories;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _columnIndex;

    public FeatureEncoder(IReadOnlyList<ColumnEncoding> columns)
    {
        _columns = [.. columns];
        _offsets = new int[_columns.Length];
        _categories = new Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>>[_columns.Length];
        var names = new List<string>();
        var binary = new List<bool>();
        for (var c = 0; c < _columns.Length; c++)
        {
            var column = _columns[c];
            var width = column.Kind switch
            {
                ColumnKinds.Numeric or ColumnKinds.Boolean => 1,
                ColumnKinds.Categorical => column.Categories.Count + 1,
                ColumnKinds.Datetime => column.Parts.Count,
                _ => throw new ArgumentException($"Column '{column.Column}' has unknown encoding kind '{column.Kind}'.", nameof(columns)),
            };
            if (column.Features.Count != width || column.Missing.Count != width)
            {
                throw new ArgumentException($"Column '{column.Column}' ({column.Kind}) must list {width} feature names and {width} missing values.", nameof(columns));
            }

            _offsets[c] = names.Count;
            names.AddRange(column.Features);
            binary.AddRange(Enumerable.Repeat(column.Kind is ColumnKinds.Boolean or ColumnKinds.Categorical, width));
            var lookup = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var k = 0; k < column.Categories.Count; k++)
            {
                lookup.TryAdd(column.Categories[k], k);
            }

            _categories[c] = lookup.GetAlternateLookup<ReadOnlySpan<char>>();
        }

        FeatureNames = names;
        BinaryFeatures = binary;
        var columnIndex = new Dictionary<string, int>(_columns.Length, StringComparer.Ordinal);
        for (var c = 0; c < _columns.Length; c++)
        {
            columnIndex.TryAdd(_columns[c].Column, c);
        }

        _columnIndex = columnIndex.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The index of raw column <paramref name="name"/>, or -1.</summary>
    public int ColumnIndex(ReadOnlySpan<char> name) => _columnIndex.TryGetValue(name, out var index) ? index : -1;

    public IReadOnlyList<ColumnEncoding> Columns => _columns;

    /// <summary>Encoded feature names: the model's input order.</summary>
    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>Per feature: it only ever takes 0 and 1 (a boolean column, or a one-hot category).</summary>
    public IReadOnlyList<bool> BinaryFeatures { get; }

    public int Width => FeatureNames.Count;

    /// <summary>Index of the first feature column <paramref name="column"/> produces.</summary>
    public int OffsetOf(int column) => _offsets[column];

    public int WidthOf(int column) => _columns[column].Features.Count;

    /// <summary>
    /// Encodes one raw text value (trimmed) into <paramref name="destination"/> (<see cref="WidthOf"/> floats).
    /// Returns false when the value was missing or unreadable and the imputation values were written.
    /// </summary>
    public bool Encode(int column, ReadOnlySpan<char> value, Span<float> destination)
    {
        var encoding = _columns[column];
        if (RawValues.IsMissing(value))
        {
            Impute(encoding, destination);
            return false;
        }

        switch (encoding.Kind)
        {
            case ColumnKinds.Numeric:
                if (RawValues.TryParseNumber(value, encoding.DecimalSeparator, encoding.ThousandsSeparator, out var number) && Math.Abs(number) <= float.MaxValue)
                {
                    destination[0] = (float)number;
                    return true;
                }

                break;
            case ColumnKinds.Boolean:
                if (RawValues.TryParseBoolean(value, out var flag))
                {
                    destination[0] = flag ? 1 : 0;
                    return true;
                }

                break;
            case ColumnKinds.Categorical:
                destination[..encoding.Features.Count].Clear();
                destination[_categories[column].TryGetValue(value, out var k) ? k : encoding.Categories.Count] = 1;
                return true;
            case ColumnKinds.Datetime:
                if (RawValues.TryParseDateTime(value, out var time))
                {
                    Span<double> parts = stackalloc double[DateTimeParts.All.Length];
                    DateTimeParts.Of(time, parts);
                    for (var p = 0; p < encoding.Parts.Count; p++)
                    {
                        destination[p] = (float)parts[DateTimeParts.IndexOf(encoding.Parts[p])];
                    }

                    return true;
                }

                break;
        }

        Impute(encoding, destination);
        return false;
    }

    /// <summary>
    /// Encodes a JSON value as a predict request sends it, from a <see cref="Utf8JsonReader"/> positioned on the value:
    /// numbers, strings, booleans or null (missing). Returns false when the value cannot be read for the column's kind (a
    /// string that is not a number for a numeric column; arrays and objects, which are refused without being skipped).
    /// Unknown categories are not errors: they go to "other".
    /// </summary>
    public bool TryEncode(int column, ref Utf8JsonReader reader, Span<float> destination)
    {
        var encoding = _columns[column];
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                Impute(encoding, destination);
                return true;
            case JsonTokenType.True or JsonTokenType.False when encoding.Kind is ColumnKinds.Boolean or ColumnKinds.Numeric:
                destination[0] = reader.TokenType == JsonTokenType.True ? 1 : 0;
                return true;
            case JsonTokenType.True or JsonTokenType.False when encoding.Kind is ColumnKinds.Categorical:
                Encode(column, reader.TokenType == JsonTokenType.True ? "true" : "false", destination);
                return true;
            case JsonTokenType.Number when encoding.Kind is ColumnKinds.Numeric:
                if (reader.TryGetDouble(out var number) && double.IsFinite(number) && Math.Abs(number) <= float.MaxValue)
                {
                    destination[0] = (float)number;
                    return true;
                }

                return false;
            case JsonTokenType.Number when encoding.Kind is ColumnKinds.Categorical or ColumnKinds.Boolean:
                var raw = System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan);
                return Encode(column, raw, destination) || encoding.Kind == ColumnKinds.Categorical;
            case JsonTokenType.String:
                var text = reader.GetString().AsSpan().Trim();
                if (encoding.Kind == ColumnKinds.Categorical)
                {
                    Encode(column, text, destination);
                    return true;
                }

                return Encode(column, text, destination) || RawValues.IsMissing(text);
            default:
                return false;
        }
    }

    private static void Impute(ColumnEncoding encoding, Span<float> destination)
    {
        for (var i = 0; i < encoding.Missing.Count; i++)
        {
            destination[i] = (float)encoding.Missing[i];
        }
    }

    /// <summary>Feature name of a one-hot category: <c>{column}={category}</c>; the other bucket is <c>{column}=*other*</c>.</summary>
    public static string CategoryFeature(string column, string? category) => $"{column}={category ?? "*other*"}";

    public static string PartFeature(string column, string part) => string.Create(CultureInfo.InvariantCulture, $"{column}.{part}");
}
