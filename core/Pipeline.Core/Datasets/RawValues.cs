using System.Globalization;

namespace Pipeline.Datasets;

/// <summary>
/// How raw cell text is read, shared by the preprocess step and the predict path so both read a value the same way.
/// Values are expected trimmed.
/// </summary>
public static class RawValues
{
    private static readonly string[] MissingTokens = ["", "na", "n/a", "nan", "null", "none", "?", "-"];

    private static readonly double[] PowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    /// <summary>Empty, <c>NA</c>, <c>N/A</c>, <c>NaN</c>, <c>null</c>, <c>none</c>, <c>?</c> and <c>-</c> (any case) are missing.</summary>
    public static bool IsMissing(ReadOnlySpan<char> value)
    {
        if (value.Length > 4)
        {
            return false;
        }

        foreach (var token in MissingTokens)
        {
            if (value.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A finite number in invariant notation (<c>-12.5</c>, <c>1e-3</c>). Thousands separators and decimal commas are not
    /// numbers here: <c>1,234</c> is text unless the column declares its separators.
    /// </summary>
    public static bool TryParseNumber(ReadOnlySpan<char> value, out double result)
    {
        // Fast path (Clinger): at most 15 digits and no exponent convert exactly as mantissa / 10^k.
        var i = 0;
        var negative = false;
        if (value.Length > 0 && (value[0] == '-' || value[0] == '+'))
        {
            negative = value[0] == '-';
            i = 1;
        }

        long mantissa = 0;
        var digits = 0;
        var fraction = -1;
        var simple = true;
        for (; i < value.Length; i++)
        {
            var c = value[i];
            if ((uint)(c - '0') <= 9 && digits < 15)
            {
                mantissa = (mantissa * 10) + (c - '0');
                digits++;
                if (fraction >= 0)
                {
                    fraction++;
                }
            }
            else if (c == '.' && fraction < 0)
            {
                fraction = 0;
            }
            else
            {
                simple = false;
                break;
            }
        }

        if (simple && digits > 0)
        {
            var magnitude = fraction > 0 ? mantissa / PowersOfTen[fraction] : mantissa;
            result = negative ? -magnitude : magnitude;
            return true;
        }

        if (value.Length == 0 || !(char.IsAsciiDigit(value[^1]) || value[^1] == '.'))
        {
            // "Infinity", "NaN", "1e5x": not numbers (double.TryParse would take the first two).
            result = 0;
            return false;
        }

        return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out result) && double.IsFinite(result);
    }

    /// <summary>A number written with declared separators (<c>1.234,5</c> with decimal ',' and thousands '.').</summary>
    public static bool TryParseNumber(ReadOnlySpan<char> value, string? decimalSeparator, string? thousandsSeparator, out double result)
    {
        if (string.IsNullOrEmpty(decimalSeparator) && string.IsNullOrEmpty(thousandsSeparator))
        {
            return TryParseNumber(value, out result);
        }

        if (value.Length > 256)
        {
            result = 0;
            return false;
        }

        Span<char> buffer = stackalloc char[value.Length];
        var length = 0;
        var thousands = string.IsNullOrEmpty(thousandsSeparator) ? '\0' : thousandsSeparator[0];
        var decimalMark = string.IsNullOrEmpty(decimalSeparator) ? '.' : decimalSeparator[0];
        foreach (var c in value)
        {
            if (thousands != '\0' && c == thousands)
            {
                continue;
            }

            buffer[length++] = c == decimalMark ? '.' : c;
        }

        return TryParseNumber(buffer[..length], out result);
    }

    /// <summary><c>true/false</c>, <c>yes/no</c>, <c>y/n</c>, <c>t/f</c>, <c>1/0</c> (any case).</summary>
    public static bool TryParseBoolean(ReadOnlySpan<char> value, out bool result)
    {
        result = false;
        if (value.Length is 0 or > 5)
        {
            return false;
        }

        if (value.Equals("true", StringComparison.OrdinalIgnoreCase) || value.Equals("yes", StringComparison.OrdinalIgnoreCase) ||
            value.Equals("y", StringComparison.OrdinalIgnoreCase) || value.Equals("t", StringComparison.OrdinalIgnoreCase) || value is "1")
        {
            result = true;
            return true;
        }

        return value.Equals("false", StringComparison.OrdinalIgnoreCase) || value.Equals("no", StringComparison.OrdinalIgnoreCase) ||
            value.Equals("n", StringComparison.OrdinalIgnoreCase) || value.Equals("f", StringComparison.OrdinalIgnoreCase) || value is "0";
    }

    /// <summary>
    /// A date or date-time (ISO 8601 or invariant culture, e.g. <c>2024-03-05</c>, <c>2024-03-05T14:30:00Z</c>, <c>03/05/2024 14:30</c>),
    /// normalized to UTC. Plain numbers are never dates.
    /// </summary>
    public static bool TryParseDateTime(ReadOnlySpan<char> value, out DateTime result)
    {
        result = default;
        if (value.Length is < 6 or > 40 || !char.IsAsciiDigit(value[0]) || value.IndexOfAny('-', '/', ':') < 0)
        {
            return false;
        }

        if (DateTime.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out result))
        {
            return true;
        }

        return false;
    }
}
