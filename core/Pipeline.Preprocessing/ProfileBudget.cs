namespace Pipeline.Preprocessing;

/// <summary>
/// Per-column limits of pass 1's profiles under <see cref="PreprocessOptions.ProfileMemoryBytes"/>. When the options'
/// limits fit a column's share of the budget (files of up to ~60 columns) the column gets them. A wider file's columns
/// get less: of a column's share, a quarter for the entries of its distinct values, then of what is left two thirds for
/// their text (2 bytes a character) and a third for its median sample (8 bytes a value). The distinct tracking always
/// keeps room for more than <see cref="PreprocessOptions.MaxCategoricalDistinct"/> values, so a column is told
/// categorical or not the same way in a wide file as in a narrow one.
/// </summary>
public readonly record struct ProfileBudget(int TrackedDistinct, int TrackedChars, int MedianSampleSize)
{
    /// <summary>Bytes a tracked distinct value's entry takes besides its text (dictionary entry, the string, id, counts per split): measured ~190 on a 1,000-column file.</summary>
    private const int EntryBytes = 192;

    public static ProfileBudget For(PreprocessOptions options, int columns)
    {
        ArgumentNullException.ThrowIfNull(options);
        var share = options.ProfileMemoryBytes / Math.Max(1, columns);
        if ((long)options.MaxTrackedDistinct * EntryBytes + options.MaxTrackedChars * 2L + options.MedianSampleSize * (long)sizeof(double) <= share)
        {
            return new ProfileBudget(options.MaxTrackedDistinct, options.MaxTrackedChars, options.MedianSampleSize);
        }

        var distinctFloor = Math.Min(options.MaxTrackedDistinct, options.MaxCategoricalDistinct + 1);
        var distinct = (int)Math.Clamp(share / 4 / EntryBytes, distinctFloor, options.MaxTrackedDistinct);
        var rest = Math.Max(0, share - (long)distinct * EntryBytes);
        return new ProfileBudget(
            distinct,
            (int)Math.Clamp(rest * 2 / 3 / 2, Math.Min(options.MaxTrackedChars, 16 * distinctFloor), options.MaxTrackedChars),
            (int)Math.Clamp(rest / 3 / sizeof(double), Math.Min(options.MedianSampleSize, 100), options.MedianSampleSize));
    }
}
