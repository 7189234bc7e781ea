using System.Buffers;
using System.Text.Json;
using Pipeline.Datasets;

namespace Pipeline.Functions.Predict;

/// <summary>A client error in a predict request: becomes a 4xx problem details response.</summary>
public sealed class PredictRequestException(int status, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;
}

/// <summary>Parses <c>{"rows":[{"feature":number,...},...]}</c> into a row-major float buffer in the model's feature order.</summary>
public static class PredictRequestReader
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 8 };

    /// <summary>Reads at most <paramref name="maxBytes"/> bytes of body; more is a 413.</summary>
    public static async Task<byte[]> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 4096, maxBytes) + 1);
        while (true)
        {
            var memory = buffer.GetMemory(8192);
            var read = await request.Body.ReadAsync(memory, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer.WrittenSpan.ToArray();
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes)
            {
                throw TooLarge(maxBytes);
            }
        }
    }

    /// <summary>
    /// With an <paramref name="encoder"/> (models trained on encoded columns), rows carry the raw columns: numbers, category
    /// strings, booleans, dates or null, encoded as in training; unknown categories go to "other".
    /// </summary>
    public static (float[] Features, int Rows) Parse(ReadOnlyMemory<byte> body, IReadOnlyList<string> features, int maxRows, FeatureEncoder? encoder = null)
    {
        if (encoder is not null)
        {
            features = encoder.Columns.Select(c => c.Column).ToList();
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException e)
        {
            throw BadRequest("Malformed JSON", $"The body is not valid JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("rows", out var rows))
            {
                throw BadRequest("Missing rows", "The body must be a JSON object with a 'rows' array: {\"rows\":[{\"<feature>\":<number>,...}]}.");
            }

            if (rows.ValueKind != JsonValueKind.Array)
            {
                throw BadRequest("Invalid rows", "'rows' must be an array of objects.");
            }

            var count = rows.GetArrayLength();
            if (count == 0)
            {
                throw BadRequest("No rows", "'rows' is empty; send between 1 and " + maxRows + " rows.");
            }

            if (count > maxRows)
            {
                throw BadRequest("Too many rows", $"'rows' has {count} rows; at most {maxRows} are accepted per request.");
            }

            var index = new Dictionary<string, int>(features.Count, StringComparer.Ordinal);
            for (var i = 0; i < features.Count; i++)
            {
                index[features[i]] = i;
            }

            var width = encoder?.Width ?? features.Count;
            var values = new float[count * width];
            var seen = new bool[features.Count];
            var r = 0;
            foreach (var row in rows.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Object)
                {
                    throw BadRequest("Invalid row", $"Row {r} is a {row.ValueKind}, not an object of feature values.");
                }

                Array.Clear(seen);
                var present = 0;
                foreach (var property in row.EnumerateObject())
                {
                    if (!index.TryGetValue(property.Name, out var f))
                    {
                        throw BadRequest("Unknown feature", $"Row {r} has feature '{property.Name}', which the model does not use. Features: {string.Join(", ", features)}.");
                    }

                    if (seen[f])
                    {
                        throw BadRequest("Duplicate feature", $"Row {r} gives feature '{property.Name}' more than once.");
                    }

                    if (encoder is not null)
                    {
                        if (!encoder.TryEncode(f, property.Value, values.AsSpan((r * width) + encoder.OffsetOf(f), encoder.WidthOf(f))))
                        {
                            throw BadRequest("Invalid feature value", $"Row {r} column '{property.Name}' is {encoder.Columns[f].Kind}; got {Describe(property.Value)} that does not read as one: {property.Value.GetRawText()}.");
                        }

                        seen[f] = true;
                        present++;
                        continue;
                    }

                    if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetDouble(out var number) ||
                        !double.IsFinite(number) || Math.Abs(number) > float.MaxValue)
                    {
                        throw BadRequest("Invalid feature value", $"Row {r} feature '{property.Name}' must be a finite JSON number; got {Describe(property.Value)}.");
                    }

                    seen[f] = true;
                    present++;
                    values[(r * width) + f] = (float)number;
                }

                if (present != features.Count)
                {
                    var missing = features.Where((_, i) => !seen[i]);
                    throw BadRequest("Missing feature", $"Row {r} is missing feature(s): {string.Join(", ", missing)}.");
                }

                r++;
            }

            return (values, count);
        }
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number outside the float range",
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => value.ValueKind.ToString(),
    };

    private static PredictRequestException BadRequest(string title, string detail) => new(StatusCodes.Status400BadRequest, title, detail);

    private static PredictRequestException TooLarge(int maxBytes) =>
        new(StatusCodes.Status413PayloadTooLarge, "Body too large", $"The request body exceeds {maxBytes} bytes; send fewer rows per request.");
}
