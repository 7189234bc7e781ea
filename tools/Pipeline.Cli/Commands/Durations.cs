using System.CommandLine.Parsing;
using System.Globalization;

namespace Pipeline.Cli.Commands;

/// <summary>Durations on the command line: <c>90</c> or <c>90s</c>, <c>15m</c>, <c>2h</c>, or <c>hh:mm:ss</c>.</summary>
public static class Durations
{
    public static TimeSpan Parse(ArgumentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (TryParse(text, out var value) && value > TimeSpan.Zero && value <= TimeSpan.FromDays(7))
        {
            return value;
        }

        result.AddError($"'{text}' is not a duration between 1 s and 7 days: use 90s, 15m, 2h or hh:mm:ss.");
        return default;
    }

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var unit = char.ToLowerInvariant(text[^1]);
        var (number, scale) = unit switch
        {
            's' => (text[..^1], 1.0),
            'm' => (text[..^1], 60.0),
            'h' => (text[..^1], 3600.0),
            _ => (text, 1.0),
        };
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds))
        {
            value = TimeSpan.FromSeconds(seconds * scale);
            return true;
        }

        return text.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value);
    }
}
