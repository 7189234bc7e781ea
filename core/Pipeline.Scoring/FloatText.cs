using System.Globalization;

namespace Pipeline.Scoring;

/// <summary>
/// Formats model outputs as decimal text that reads back as exactly the same float, several times faster than the
/// runtime's shortest round-trip formatting (which took most of the time of writing a predictions file). A value is
/// written with the fewest fraction digits whose decimal lies strictly within half a float's spacing of it (a millionth of
/// that spacing short of the tie): then every correctly rounding parser returns the value itself, the double arithmetic
/// used to find it being far more precise than that margin. The text is plain decimal (no exponent), almost always as
/// short as the shortest round-trip form; values outside
/// [<see cref="Smallest"/>, <see cref="Largest"/>), and those needing too many digits, use the runtime's formatting.
/// </summary>
public static class FloatText
{
    /// <summary>The smallest magnitude written by the fast path (below it the runtime's formatting, with an exponent).</summary>
    public const double Smallest = 1e-6;

    /// <summary>The magnitude from which the runtime's formatting is used.</summary>
    public const double Largest = 1e9;

    /// <summary>Most digits of the decimal's integer (2^53 stays exact in a double).</summary>
    private const double MaxDigits = 9_007_199_254_740_992d;

    private static readonly double[] Powers = [.. Enumerable.Range(0, 18).Select(d => Math.Pow(10, d))];

    /// <summary>Writes <paramref name="value"/> into <paramref name="destination"/> (32 characters always suffice).</summary>
    public static bool TryFormat(float value, Span<char> destination, out int written)
    {
        var magnitude = Math.Abs((double)value);
        if (BitConverter.SingleToInt32Bits(value) == 0 && destination.Length > 0)
        {
            destination[0] = '0';
            written = 1;
            return true;
        }

        if (magnitude is >= Smallest and < Largest && destination.Length >= 32)
        {
            // Half the smaller gap to a neighbouring float (below a power of two the gap halves), a millionth short of
            // it: the margin a decimal must be within to read back as this float and not tie with a neighbour.
            var bits = BitConverter.SingleToInt32Bits(Math.Abs(value));
            var margin = Math.Min(BitConverter.Int32BitsToSingle(bits + 1) - magnitude, magnitude - BitConverter.Int32BitsToSingle(bits - 1)) / 2 * (1 - 1e-6);
            for (var digits = 0; digits < Powers.Length; digits++)
            {
                var scaled = Math.Round(magnitude * Powers[digits]);
                if (scaled >= MaxDigits)
                {
                    break;
                }

                if (Math.Abs((scaled / Powers[digits]) - magnitude) <= margin)
                {
                    written = Write((long)scaled, digits, value < 0, destination);
                    return true;
                }
            }
        }

        return value.TryFormat(destination, out written, provider: CultureInfo.InvariantCulture);
    }

    /// <summary>Writes <paramref name="scaled"/> × 10^-<paramref name="digits"/> as plain decimal text.</summary>
    private static int Write(long scaled, int digits, bool negative, Span<char> destination)
    {
        Span<char> text = stackalloc char[20];
        var length = 0;
        do
        {
            text[length++] = (char)('0' + (scaled % 10));
            scaled /= 10;
        }
        while (scaled > 0);

        while (length <= digits)
        {
            text[length++] = '0'; // leading zeros of a fraction: at least one digit before the point
        }

        var at = 0;
        if (negative)
        {
            destination[at++] = '-';
        }

        for (var i = length - 1; i >= 0; i--)
        {
            destination[at++] = text[i];
            if (i == digits && digits > 0)
            {
                destination[at++] = '.';
            }
        }

        return at;
    }
}
