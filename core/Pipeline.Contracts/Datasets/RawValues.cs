using System.Globalization;
using System.Runtime.CompilerServices;

namespace Pipeline.Datasets;

/// <summary>
/// How raw cell text is read, shared by the preprocess step and the predict path so both read a value the same way.
/// Values are expected trimmed.
/// </summary>
public static class RawValues
{
    private static readonly double[] PowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    /// <summary>Empty, <c>NA</c>, <c>N/A</c>, <c>NaN</c>, <c>null</c>, <c>none</c>, <c>?</c> and <c>-</c> (any case) are missing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsMissing(ReadOnlySpan<char> value) => value.Length switch
    {
        0 => true,
        1 => value[0] is '?' or '-',
        2 => (value[0] | 0x20) == 'n' && (value[1] | 0x20) == 'a',
        3 => (value[0] | 0x20) == 'n' && ((value[1] == '/' && (value[2] | 0x20) == 'a') || ((value[1] | 0x20) == 'a' && (value[2] | 0x20) == 'n')),
        4 => value.Equals("null", StringComparison.OrdinalIgnoreCase) || value.Equals("none", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    /// <summary>
    /// A finite number in invariant notation (<c>-12.5</c>, <c>1e-3</c>). Thousands separators and decimal commas are not
    /// numbers here: <c>1,234</c> is text unless the column declares its separators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
        var start = i;
        uint digit;
        while (i < value.Length && (digit = (uint)(value[i] - '0')) <= 9)
        {
            mantissa = (mantissa * 10) + digit;
            i++;
        }

        var digits = i - start;
        var fraction = 0;
        if (i < value.Length && value[i] == '.')
        {
            var point = ++i;
            while (i < value.Length && (digit = (uint)(value[i] - '0')) <= 9)
            {
                mantissa = (mantissa * 10) + digit;
                i++;
            }

            fraction = i - point;
            digits += fraction;
        }

        if (i == value.Length && digits is > 0 and <= 15)
        {
            var magnitude = fraction > 0 ? mantissa / PowersOfTen[fraction] : mantissa;
            result = negative ? -magnitude : magnitude;
            return true;
        }

        return TryParseOther(value, digits, i, out result);
    }

    /// <summary>The rest of <see cref="TryParseNumber(ReadOnlySpan{char}, out double)"/>, out of the inlined fast path.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryParseOther(ReadOnlySpan<char> value, int digits, int i, out double result)
    {
        // Only an exponent (1e-3) or more than 15 digits can still be a number: anything else that stopped the digits
        // ("2024-03-05", "1,5", "Infinity", "1.2.3") is not, and need not go through double.TryParse.
        if (digits == 0 || (i < value.Length && (value[i] | 0x20) != 'e') || !char.IsAsciiDigit(value[^1]) && value[^1] != '.')
        {
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
        // By length first: one comparison at most (every text cell of a column is tried).
        result = false;
        switch (value.Length)
        {
            case 1:
                var c = value[0];
                result = c == '1' || (c | 0x20) is 't' or 'y';
                return result || c == '0' || (c | 0x20) is 'f' or 'n';
            case 2:
                return value.Equals("no", StringComparison.OrdinalIgnoreCase);
            case 3:
                return result = value.Equals("yes", StringComparison.OrdinalIgnoreCase);
            case 4:
                return result = value.Equals("true", StringComparison.OrdinalIgnoreCase);
            case 5:
                return value.Equals("false", StringComparison.OrdinalIgnoreCase);
            default:
                return false;
        }
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

        if (TryParseIsoDateTime(value, out result))
        {
            return true;
        }

        if (DateTime.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out result))
        {
            return true;
        }

        return false;
    }

    /// <summary>Fast path for <c>yyyy-MM-dd</c> with an optional <c>T</c>/space time <c>HH:mm[:ss]</c> and optional <c>Z</c> (UTC).</summary>
    private static bool TryParseIsoDateTime(ReadOnlySpan<char> value, out DateTime result)
    {
        result = default;
        if (value.Length is not (10 or 16 or 17 or 19 or 20) || value[4] != '-' || value[7] != '-')
        {
            return false;
        }

        if (!TwoDigits(value, 0, out var century) || !TwoDigits(value, 2, out var yy) || !TwoDigits(value, 5, out var month) || !TwoDigits(value, 8, out var day))
        {
            return false;
        }

        int hour = 0, minute = 0, second = 0;
        if (value.Length > 10)
        {
            var time = value[10..];
            if (time[^1] == 'Z')
            {
                time = time[..^1];
            }

            if (time.Length is not (6 or 9) || time[0] is not ('T' or ' ') || time[3] != ':' || !TwoDigits(time, 1, out hour) || !TwoDigits(time, 4, out minute) ||
                (time.Length == 9 && (time[6] != ':' || !TwoDigits(time, 7, out second))))
            {
                return false;
            }
        }

        var year = (century * 100) + yy;
        if (month is < 1 or > 12 || day < 1 || year < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        result = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc);
        return true;
    }

    private static bool TwoDigits(ReadOnlySpan<char> value, int at, out int result)
    {
        var tens = value[at] - '0';
        var ones = value[at + 1] - '0';
        result = (tens * 10) + ones;
        return (uint)tens <= 9 && (uint)ones <= 9;
    }
}
