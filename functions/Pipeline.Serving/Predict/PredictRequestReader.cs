using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Pipeline.Datasets;

namespace Pipeline.Serving.Predict;

/// <summary>A client error in a predict request: becomes a 4xx problem details response.</summary>
public sealed class PredictRequestException(int status, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;
}

/// <summary>A rented buffer and how much of it is used; <see cref="Dispose"/> returns it to the pool.</summary>
public readonly struct Pooled<T>(T[] array, int length) : IDisposable
{
    public T[] Array { get; } = array;

    public int Length { get; } = length;

    public ReadOnlySpan<T> Span => Array.AsSpan(0, Length);

    public void Dispose()
    {
        if (Array is { Length: > 0 })
        {
            ArrayPool<T>.Shared.Return(Array);
        }
    }
}

/// <summary>
/// Reads <c>{"rows":[{"feature":number,...},...]}</c> with <see cref="Utf8JsonReader"/> straight into a pooled, row-major
/// float buffer in the model's feature order: no DOM, no strings for feature names, no per-row allocations.
/// Every rejection names the problem (row, feature, what was wrong).
/// </summary>
public static class PredictRequestReader
{
    /// <summary>Deepest nesting accepted; a valid body needs 3 (object, rows array, row object) and one more for a stray value.</summary>
    public const int MaxDepth = 8;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>Reads at most <paramref name="maxBytes"/> bytes of body into a pooled buffer; more is a 413.</summary>
    public static async Task<Pooled<byte>> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? 4096, maxBytes) + 1);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return new Pooled<byte>(buffer, length);
                }

                length += read;
                cancellationToken.ThrowIfCancellationRequested(); // a body stream may not observe the token itself
                if (length > maxBytes)
                {
                    throw TooLarge(maxBytes);
                }
            }
        }
        catch (BadHttpRequestException e)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new PredictRequestException(e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Body too large" : "Bad request body",
                e.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(maxBytes).Message : "The request body could not be read (too slow or malformed framing).");
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>Parses <paramref name="body"/> for <paramref name="model"/>; the result holds <c>rows × FeatureCount</c> floats.</summary>
    public static Pooled<float> Parse(ReadOnlySpan<byte> body, LoadedModel model, int maxRows, out int rows)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!Utf8.IsValid(body))
        {
            throw BadRequest("Invalid UTF-8", "The body is not valid UTF-8; send JSON encoded as UTF-8.");
        }

        var width = model.FeatureCount;
        var values = ArrayPool<float>.Shared.Rent(Math.Max(width * 4, 16));
        var seen = ArrayPool<bool>.Shared.Rent(width);
        Span<char> nameBuffer = stackalloc char[128];
        rows = 0;
        try
        {
            var reader = new Utf8JsonReader(body, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw MissingRows();
            }

            var sawRows = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("rows"u8))
                {
                    reader.Skip(); // other top-level members are ignored (room for future options)
                    continue;
                }

                if (sawRows)
                {
                    throw BadRequest("Duplicate rows", "The body has more than one 'rows' member.");
                }

                sawRows = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    throw BadRequest("Invalid rows", $"'rows' must be an array of objects; got {Describe(reader.TokenType)}.");
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        throw BadRequest("Invalid row", $"Row {rows} is {Describe(reader.TokenType)}, not an object of feature values.");
                    }

                    if (rows == maxRows)
                    {
                        throw BadRequest("Too many rows", $"'rows' has more than {maxRows} rows; at most {maxRows} are accepted per request.");
                    }

                    if ((rows + 1) * width > values.Length)
                    {
                        var larger = ArrayPool<float>.Shared.Rent(values.Length * 2);
                        values.AsSpan(0, rows * width).CopyTo(larger);
                        ArrayPool<float>.Shared.Return(values);
                        values = larger;
                    }

                    ReadRow(ref reader, model, values.AsSpan(rows * width, width), seen.AsSpan(0, width), nameBuffer, rows);
                    rows++;
                }
            }

            if (!sawRows)
            {
                throw MissingRows();
            }

            if (rows == 0)
            {
                throw BadRequest("No rows", $"'rows' is empty; send between 1 and {maxRows} rows.");
            }

            if (reader.Read())
            {
                throw BadRequest("Malformed JSON", "The body is not valid JSON: there is content after the top-level object.");
            }

            var result = new Pooled<float>(values, rows * width);
            values = [];
            return result;
        }
        catch (JsonException e)
        {
            throw BadRequest("Malformed JSON", $"The body is not valid JSON: {e.Message}");
        }
        finally
        {
            ArrayPool<bool>.Shared.Return(seen);
            if (values.Length > 0)
            {
                ArrayPool<float>.Shared.Return(values);
            }
        }
    }

    private static void ReadRow(ref Utf8JsonReader reader, LoadedModel model, Span<float> row, Span<bool> seen, scoped Span<char> nameBuffer, int r)
    {
        if (model.Encoder is { } encoder)
        {
            ReadRawRow(ref reader, encoder, model.IgnoredColumns, row, seen[..encoder.Columns.Count], nameBuffer, r);
            return;
        }

        seen.Clear();
        var present = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var index = FeatureIndex(ref reader, model, nameBuffer);
            if (index < 0)
            {
                throw BadRequest("Unknown feature", $"Row {r} has feature '{reader.GetString()}', which the model does not use. Features: {string.Join(", ", model.Manifest.Features)}.");
            }

            if (seen[index])
            {
                throw BadRequest("Duplicate feature", $"Row {r} gives feature '{model.Manifest.Features[index]}' more than once.");
            }

            reader.Read();
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var number) || !double.IsFinite(number) || Math.Abs(number) > float.MaxValue)
            {
                var got = reader.TokenType == JsonTokenType.Number ? "a number outside the float32 range" : Describe(reader.TokenType);
                throw BadRequest("Invalid feature value", $"Row {r} feature '{model.Manifest.Features[index]}' must be a finite JSON number; got {got}.");
            }

            seen[index] = true;
            present++;
            row[index] = (float)number;
        }

        if (present != model.FeatureCount)
        {
            var missing = new List<string>();
            for (var i = 0; i < seen.Length; i++)
            {
                if (!seen[i])
                {
                    missing.Add(model.Manifest.Features[i]);
                }
            }

            throw BadRequest("Missing feature", $"Row {r} is missing feature(s): {string.Join(", ", missing)}.");
        }
    }

    /// <summary>A row of raw column values (numbers, category strings, booleans, dates, null), encoded as in training.</summary>
    private static void ReadRawRow(ref Utf8JsonReader reader, FeatureEncoder encoder, HashSet<string>.AlternateLookup<ReadOnlySpan<char>> ignored, Span<float> row, Span<bool> seen, scoped Span<char> nameBuffer, int r)
    {
        seen.Clear();
        var present = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
            var name = length > nameBuffer.Length ? reader.GetString().AsSpan() : nameBuffer[..reader.CopyString(nameBuffer)];
            var index = encoder.ColumnIndex(name);
            if (index < 0 && ignored.Contains(name))
            {
                // A column of the data the model leaves out (the target, an identifier, free text): a row copied from the file.
                reader.Read();
                reader.Skip();
                continue;
            }

            if (index < 0)
            {
                throw BadRequest("Unknown feature", $"Row {r} has column '{reader.GetString()}', which the model does not use. Columns: {string.Join(", ", encoder.Columns.Select(c => c.Column))}.");
            }

            var column = encoder.Columns[index];
            if (seen[index])
            {
                throw BadRequest("Duplicate feature", $"Row {r} gives column '{column.Column}' more than once.");
            }

            reader.Read();
            if (!encoder.TryEncode(index, ref reader, row.Slice(encoder.OffsetOf(index), encoder.WidthOf(index))))
            {
                throw BadRequest("Invalid feature value", $"Row {r} column '{column.Column}' is {column.Kind}; got {Describe(reader.TokenType)} that does not read as one.");
            }

            seen[index] = true;
            present++;
        }

        if (present != seen.Length)
        {
            var missing = new List<string>();
            for (var i = 0; i < seen.Length; i++)
            {
                if (!seen[i])
                {
                    missing.Add(encoder.Columns[i].Column);
                }
            }

            throw BadRequest("Missing feature", $"Row {r} is missing column(s): {string.Join(", ", missing)}.");
        }
    }

    private static int FeatureIndex(ref Utf8JsonReader reader, LoadedModel model, scoped Span<char> buffer)
    {
        var length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (length > buffer.Length)
        {
            return model.FeatureIndex(reader.GetString());
        }

        var written = reader.CopyString(buffer);
        return model.FeatureIndex(buffer[..written]);
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.Null => "null",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        _ => "nothing",
    };

    private static PredictRequestException MissingRows() =>
        BadRequest("Missing rows", "The body must be a JSON object with a 'rows' array: {\"rows\":[{\"<feature>\":<number>,...}]}.");

    private static PredictRequestException BadRequest(string title, string detail) => new(StatusCodes.Status400BadRequest, title, detail);

    private static PredictRequestException TooLarge(int maxBytes) =>
        new(StatusCodes.Status413PayloadTooLarge, "Body too large", $"The request body exceeds {maxBytes} bytes; send fewer rows per request.");
}
