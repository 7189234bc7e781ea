using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Cli.Commands;

/// <summary>One input row: its values as sent to the API, and for CSV the fields as read (copied to CSV output).</summary>
public sealed record InputRow(JsonObject Values, IReadOnlyList<string>? Fields);

/// <summary>
/// Rows for <c>predict</c>, streamed: CSV/TSV with a header (RFC 4180 quoting; empty = missing, numbers and
/// <c>true</c>/<c>false</c> as such, anything else as text), JSON Lines (one object per line), or one JSON document
/// (an object, an array of objects, or <c>{"rows":[…]}</c>).
/// </summary>
public static class PredictInput
{
    /// <summary>Longest CSV record or JSON line read: a file without line breaks is refused, not loaded whole.</summary>
    public const int MaxRecordChars = 1 << 20;

    public static bool IsCsv(string path)
    {
        var name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        return !(name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".json", StringComparison.OrdinalIgnoreCase));
    }

    public static List<InputRow> FromJson(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCode.Usage, $"--json is not valid JSON: {e.Message}", e);
        }

        var rows = node switch
        {
            JsonObject o when o["rows"] is JsonArray a => a,
            JsonObject o => new JsonArray(o.DeepClone()),
            JsonArray a => a,
            _ => throw new CliException(ExitCode.Usage, "--json must be a row object, an array of row objects or {\"rows\":[…]}."),
        };
        return [.. rows.Select((r, i) => r is JsonObject row
            ? new InputRow((JsonObject)row.DeepClone(), null)
            : throw new CliException(ExitCode.Usage, $"--json row {i} is not a JSON object."))];
    }

    public static IEnumerable<InputRow> JsonLines(TextReader reader, string source)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (line.Length > MaxRecordChars)
            {
                throw new CliException(ExitCode.Usage, $"{source} line {number} is longer than {MaxRecordChars:N0} characters.");
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                throw new CliException(ExitCode.Usage, $"{source} line {number} is not valid JSON: {e.Message}", e);
            }

            yield return node is JsonObject row ? new InputRow(row, null) : throw new CliException(ExitCode.Usage, $"{source} line {number} is not a JSON object.");
        }
    }

    /// <summary>CSV records after the header; <paramref name="header"/> receives the header's fields.</summary>
    public static IEnumerable<InputRow> Csv(TextReader reader, char delimiter, string source, List<string> header)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(header);
        var line = 0;
        var first = ReadRecord(reader, delimiter, () => line++, source)
            ?? throw new CliException(ExitCode.Usage, $"{source} is empty: the first line must name the columns.");
        header.AddRange(first);
        while (true)
        {
            var start = line + 1;
            var fields = ReadRecord(reader, delimiter, () => line++, source);
            if (fields is null)
            {
                yield break;
            }

            if (fields is [""])
            {
                continue;
            }

            if (fields.Count != header.Count)
            {
                throw new CliException(ExitCode.Usage, $"{source} line {start} has {fields.Count} fields; the header has {header.Count}.");
            }

            var values = new JsonObject();
            for (var i = 0; i < fields.Count; i++)
            {
                values[header[i]] = Value(fields[i]);
            }

            yield return new InputRow(values, fields);
        }
    }

    private static JsonNode? Value(string field)
    {
        if (field.Length == 0)
        {
            return null;
        }

        if (double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
        {
            return number;
        }

        return field.ToLowerInvariant() switch
        {
            "true" => true,
            "false" => false,
            _ => field,
        };
    }

    /// <summary>One record (fields; a quoted field may span lines), or null at the end. The reader buffers: reading by character is cheap.</summary>
    private static List<string>? ReadRecord(TextReader reader, char delimiter, Action newLine, string source)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var any = false;
        var length = 0;
        int next;
        while ((next = reader.Read()) >= 0)
        {
            any = true;
            if (++length > MaxRecordChars)
            {
                throw new CliException(ExitCode.Usage, $"{source}: a record is longer than {MaxRecordChars:N0} characters.");
            }

            var c = (char)next;
            if (quoted)
            {
                if (c == '"')
                {
                    if (reader.Peek() == '"')
                    {
                        reader.Read();
                        field.Append('"');
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    if (c == '\n')
                    {
                        newLine();
                    }

                    field.Append(c);
                }
            }
            else if (c == '"' && field.Length == 0)
            {
                quoted = true;
            }
            else if (c == delimiter)
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else if (c == '\n')
            {
                newLine();
                fields.Add(field.ToString().TrimEnd('\r'));
                return fields;
            }
            else
            {
                field.Append(c);
            }
        }

        if (!any)
        {
            return null;
        }

        newLine();
        fields.Add(field.ToString().TrimEnd('\r'));
        return fields;
    }
}
