using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// A block of consecutive rows of a data file as trimmed text cells in one character buffer. Readers fill it; the dataset
/// builder then works on a whole block at once (one column per task), so rows are parsed once per pass and the per-row cost
/// of a virtual reader call disappears. Reused across blocks: filling it again invalidates what was read before.
/// </summary>
public sealed class RowBlock
{
    /// <summary>Each cell's start and length in <see cref="Text"/>, side by side: a column's next cell is one cache line away, not two.</summary>
    private Cell[] _cell = new Cell[4096];
    private int _cells;
    private int[] _firstCell = new int[256];
    private int[] _fieldCount = new int[256];
    private long[] _line = new long[256];
    private int[] _rawStart = new int[256];
    private int[] _rawLength = new int[256];
    private string?[] _description = new string?[256];

    /// <summary>The characters the cells point into (a reader writes here directly).</summary>
    internal char[] Text = new char[1 << 16];

    internal int TextLength;

    /// <summary>Rows in the block.</summary>
    public int Count { get; private set; }

    /// <summary>Fields of row <paramref name="row"/>; differs from the header's count on a ragged row (-1: unreadable row).</summary>
    public int FieldCount(int row) => _fieldCount[row];

    /// <summary>The row is blank: one empty field (an empty line, or only white space).</summary>
    public bool IsBlank(int row) => _fieldCount[row] == 1 && _cell[_firstCell[row]].Length == 0;

    /// <summary>1-based line of the row in its file (the header is line 1 in CSV).</summary>
    public long Line(int row) => _line[row];

    /// <summary>Field <paramref name="ordinal"/> of row <paramref name="row"/>, trimmed.</summary>
    public ReadOnlySpan<char> Field(int row, int ordinal)
    {
        var cell = _cell[_firstCell[row] + ordinal];
        return Text.AsSpan(cell.Start, cell.Length);
    }

    /// <summary>
    /// Asks the core to bring field <paramref name="ordinal"/> of row <paramref name="row"/> into its cache ahead of use:
    /// a column's cells are one per row, a row apart, and the first read of each missed the cache (a third of the number
    /// parser's samples sat on the instruction after it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(int row, int ordinal)
    {
        if (Sse.IsSupported)
        {
            // A hint only: it cannot fault, and the array moving under it merely wastes it.
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Text), _cell[_firstCell[row] + ordinal].Start)));
        }
    }

    /// <summary>The step before <see cref="Prefetch"/>, further ahead: where the field is (its start and length).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void PrefetchCell(int row, int ordinal)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_cell), _firstCell[row] + ordinal)));
        }
    }

    /// <summary>The row's text as read (CSV: the record; other formats: the fields with a separator), for duplicate checks.</summary>
    public ReadOnlySpan<char> Raw(int row) => Text.AsSpan(_rawStart[row], _rawLength[row]);

    /// <summary>The row as text, shortened, for report examples.</summary>
    public string Describe(int row)
    {
        if (_description[row] is { } described)
        {
            return described;
        }

        return Shorten(Raw(row)).Replace(FieldSeparator, ',');
    }

    /// <summary>Text for a report example: at most 200 characters.</summary>
    internal static string Shorten(ReadOnlySpan<char> text) => text.Length > 200 ? string.Concat(text[..200], "…") : text.ToString();

    /// <summary>Separates copied fields in <see cref="Text"/> so <see cref="Raw"/> tells "a","bc" from "ab","c".</summary>
    internal const char FieldSeparator = '\u001F';

    internal void Clear()
    {
        Array.Clear(_description, 0, Count); // a reused block keeps no earlier rows' text alive
        Count = 0;
        _cells = 0;
        TextLength = 0;
    }

    /// <summary>Makes room for <paramref name="length"/> more characters after <see cref="TextLength"/>.</summary>
    internal void EnsureText(int length)
    {
        if (TextLength + length > Text.Length)
        {
            Array.Resize(ref Text, Math.Max(Text.Length * 2, TextLength + length));
        }
    }

    /// <summary>Reserves <paramref name="length"/> characters at the end of <see cref="Text"/>; returns where they start.</summary>
    internal int AddText(int length)
    {
        EnsureText(length);
        var at = TextLength;
        TextLength += length;
        return at;
    }

    /// <summary>Drops the cells added since the last complete row.</summary>
    internal void DiscardOpenRow() => _cells = OpenRowFirstCell;

    /// <summary>Where the cells of the row being added start: after the last complete row's (an unreadable row has none).</summary>
    private int OpenRowFirstCell => Count == 0 ? 0 : _firstCell[Count - 1] + Math.Max(0, _fieldCount[Count - 1]);

    /// <summary>Adds a cell pointing at <see cref="Text"/>[start..start+length], trimming white space.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void AddCell(int start, int length)
    {
        EnsureCells(1);
        _cell[_cells] = new Cell(start, length);
        Trim(_cells++);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool MayBeWhiteSpace(char c) => c <= ' ' || (c >= '\u0085' && char.IsWhiteSpace(c));

    /// <summary>
    /// Adds the fields of Text[start..end) separated by <paramref name="delimiter"/> (no quotes) as cells, trimmed. Delimiters
    /// are found 16 characters at a time (one compare and a bit mask, not a search call per field, which costs more than
    /// a short number), and the cells are stored with no per-cell checks: room for the most the record can hold is made
    /// first, and the same compares tell whether any character may be white space, so records without any (most) skip trimming.
    /// </summary>
    internal void AddFields(int start, int end, char delimiter)
    {
        var first = _cells;
        EnsureCells(end - start + 1);
        ref var cellAt = ref MemoryMarshal.GetArrayDataReference(_cell);
        ref var text = ref Unsafe.As<char, ushort>(ref MemoryMarshal.GetArrayDataReference(Text));
        var cells = first;
        var field = start;
        var i = start;
        var spaced = false;
        if (Vector256.IsHardwareAccelerated)
        {
            var delimiters = Vector256.Create((ushort)delimiter);

            // c <= ' ' or c >= U+0085 (where white space other than ASCII's starts) in one unsigned compare: c - '!' wraps.
            var bang = Vector256.Create((ushort)'!');
            var spaceLimit = Vector256.Create((ushort)('\u0085' - '!'));
            var candidates = Vector256<ushort>.Zero;
            for (; i + Vector256<ushort>.Count <= end; i += Vector256<ushort>.Count)
            {
                var chars = Vector256.LoadUnsafe(ref text, (nuint)i);
                var isDelimiter = Vector256.Equals(chars, delimiters);
                candidates |= Vector256.AndNot(Vector256.GreaterThanOrEqual(chars - bang, spaceLimit), isDelimiter);
                var mask = isDelimiter.ExtractMostSignificantBits();
                while (mask != 0)
                {
                    var at = i + BitOperations.TrailingZeroCount(mask);
                    Unsafe.Add(ref cellAt, cells) = new Cell(field, at - field);
                    cells++;
                    field = at + 1;
                    mask &= mask - 1;
                }
            }

            spaced = candidates != Vector256<ushort>.Zero;
        }

        for (; i < end; i++)
        {
            var c = (char)Unsafe.Add(ref text, i);
            if (c == delimiter)
            {
                Unsafe.Add(ref cellAt, cells) = new Cell(field, i - field);
                cells++;
                field = i + 1;
            }
            else
            {
                spaced |= MayBeWhiteSpace(c);
            }
        }

        Unsafe.Add(ref cellAt, cells) = new Cell(field, end - field);
        _cells = cells + 1;
        if (spaced)
        {
            for (var cell = first; cell < _cells; cell++)
            {
                Trim(cell);
            }
        }
    }

    /// <summary>Trims white space off cell <paramref name="cell"/>.</summary>
    private void Trim(int cell)
    {
        var (start, length) = _cell[cell];
        if (length > 0 && (MayBeWhiteSpace(Text[start]) || MayBeWhiteSpace(Text[start + length - 1])))
        {
            var span = Text.AsSpan(start, length);
            var trimmed = span.TrimStart();
            _cell[cell] = new Cell(start + span.Length - trimmed.Length, trimmed.TrimEnd().Length);
        }
    }

    private void EnsureCells(int more)
    {
        if (_cells + more > _cell.Length)
        {
            Array.Resize(ref _cell, Math.Max(_cell.Length * 2, _cells + more));
        }
    }

    /// <summary>Closes the row whose cells were added since the previous row.</summary>
    internal void EndRow(long line, int rawStart, int rawLength, string? description = null)
    {
        if (Count == _fieldCount.Length)
        {
            var size = Count * 2;
            Array.Resize(ref _firstCell, size);
            Array.Resize(ref _fieldCount, size);
            Array.Resize(ref _line, size);
            Array.Resize(ref _rawStart, size);
            Array.Resize(ref _rawLength, size);
            Array.Resize(ref _description, size);
        }

        var first = OpenRowFirstCell;
        _firstCell[Count] = first;
        _fieldCount[Count] = _cells - first;
        _line[Count] = line;
        _rawStart[Count] = rawStart;
        _rawLength[Count] = rawLength;
        _description[Count] = description;
        Count++;
    }

    /// <summary>Adds an unreadable row (-1 fields) with its description.</summary>
    internal void AddUnreadable(long line, string description)
    {
        EndRow(line, 0, 0, description);
        _fieldCount[Count - 1] = -1;
    }

    /// <summary>Copies <paramref name="value"/> into <see cref="Text"/>, followed by <see cref="FieldSeparator"/>, and adds it as a cell.</summary>
    internal void AppendCell(ReadOnlySpan<char> value)
    {
        EnsureText(value.Length + 1);
        value.CopyTo(Text.AsSpan(TextLength));
        AddCell(TextLength, value.Length);
        TextLength += value.Length;
        Text[TextLength++] = FieldSeparator;
    }

    private readonly record struct Cell(int Start, int Length);
}
