namespace Pipeline.Preprocessing.Formats;

/// <summary>A format read one row at a time (JSON Lines, Parquet): blocks are filled by copying each row's fields.</summary>
internal abstract class RowTabularReader : TabularReader
{
    private const int BlockRows = 4096;

    /// <summary>Fields of the current row (-1: unreadable row).</summary>
    protected abstract int FieldCount { get; }

    /// <summary>1-based line (or row number) of the current row.</summary>
    protected abstract long Line { get; }

    protected abstract bool Read(CancellationToken cancellationToken);

    /// <summary>The current row's field, trimmed.</summary>
    protected abstract ReadOnlySpan<char> GetField(int ordinal);

    /// <summary>How a report shows the current row when the fields do not (e.g. the JSON line as written); null: the fields.</summary>
    protected virtual string? RowText => null;

    public override bool ReadBlock(RowBlock block, CancellationToken cancellationToken)
    {
        block.Clear();
        while (block.Count < BlockRows && Read(cancellationToken))
        {
            var count = FieldCount;
            if (count < 0)
            {
                block.AddUnreadable(Line, RowText ?? "");
                continue;
            }

            var start = block.TextLength;
            for (var i = 0; i < count; i++)
            {
                block.AppendCell(GetField(i));
            }

            block.EndRow(Line, start, Math.Max(0, block.TextLength - start - 1), RowText);
        }

        return block.Count > 0;
    }
}
