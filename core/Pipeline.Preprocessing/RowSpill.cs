using System.Runtime.InteropServices;

namespace Pipeline.Preprocessing;

/// <summary>
/// Pass 1's kept rows as pass 2 needs them, in a local file that is deleted when closed: per block of rows their split,
/// target id and target number, then per column each cell's <see cref="CellCode"/> and slot (only one of the two when
/// the other says nothing: text columns need no slots, numbers past the distinct cap no codes). Pass 2 encodes from it
/// without reading, decoding or parsing the data files a second time. One block is in memory at a time; the file itself
/// (4 to 8 bytes a cell) lives in the page cache or on local disk, not in the process.
/// </summary>
internal sealed class RowSpill : IDisposable
{
    private readonly FileStream _file;
    private int _target;

    public RowSpill(string path) =>
        _file = LocalFile.Create(path, FileAccess.ReadWrite, FileOptions.DeleteOnClose | FileOptions.SequentialScan);

    /// <summary>Rows in the current block.</summary>
    public int Count { get; private set; }

    /// <summary>Per kept row: the row's index in its <see cref="Formats.RowBlock"/> (pass 1 only).</summary>
    public int[] Row { get; private set; } = [];

    public bool[] Train { get; private set; } = [];

    public byte[] Split { get; private set; } = [];

    public int[] TargetId { get; private set; } = [];

    /// <summary>The target as a number (NaN when it is not one).</summary>
    public double[] TargetNumber { get; private set; } = [];

    /// <summary>Per schema column (the target's is unused): the cells' codes and slots.</summary>
    public int[][] Code { get; private set; } = [];

    public uint[][] Slot { get; private set; } = [];

    /// <summary>Starts over (a new or repeated pass 1) for <paramref name="columns"/> columns.</summary>
    public void Start(int columns, int target)
    {
        if (_file.Length > 0)
        {
            // Pass 1 again without a file that failed part-way (rare; see LocalFile for why not always).
            _file.SetLength(0);
            _file.Position = 0;
        }

        _target = target;
        Count = 0;
        Code = new int[columns][];
        Slot = new uint[columns][];
        Row = [];
        Ensure(1024);
    }

    public void Clear() => Count = 0;

    /// <summary>Adds a kept row of the block; its cells are written into <see cref="Code"/> and <see cref="Slot"/> at the returned index.</summary>
    public int Add(int row, bool train, byte split, int targetId, double targetNumber)
    {
        if (Count == Row.Length)
        {
            Ensure(Count * 2);
        }

        Row[Count] = row;
        Train[Count] = train;
        Split[Count] = split;
        TargetId[Count] = targetId;
        TargetNumber[Count] = targetNumber;
        return Count++;
    }

    /// <summary>Appends the block to the file.</summary>
    public void Write()
    {
        if (Count == 0)
        {
            return;
        }

        _file.Write(MemoryMarshal.AsBytes([Count]));
        _file.Write(Split.AsSpan(0, Count));
        _file.Write(MemoryMarshal.AsBytes(TargetId.AsSpan(0, Count)));
        _file.Write(MemoryMarshal.AsBytes(TargetNumber.AsSpan(0, Count)));
        for (var c = 0; c < Code.Length; c++)
        {
            if (c == _target)
            {
                continue;
            }

            var codes = Code[c].AsSpan(0, Count);
            var slots = Slot[c].AsSpan(0, Count);
            var layout = LayoutOf(codes, slots);
            _file.WriteByte((byte)layout);
            if (layout == Layout.SlotsOnly)
            {
                // Missing cells become a NaN no number parses to, so the slots alone say which cells are missing.
                for (var k = 0; k < codes.Length; k++)
                {
                    if (codes[k] == CellCode.Missing)
                    {
                        slots[k] = MissingSlot;
                    }
                }
            }

            if (layout != Layout.SlotsOnly)
            {
                _file.Write(MemoryMarshal.AsBytes(codes));
            }

            if (layout != Layout.CodesOnly)
            {
                _file.Write(MemoryMarshal.AsBytes(slots));
            }
        }
    }

    /// <summary>A NaN payload <see cref="CellCode.NoNumber"/> and parsed numbers never have.</summary>
    private static readonly uint MissingSlot = CellCode.NoNumber | 1;

    /// <summary>
    /// How a column's cells of a block are written: both arrays, or only the codes when no cell is a number or a date (text
    /// and boolean columns), or only the slots when every cell is untracked or missing (numbers past the distinct cap).
    /// </summary>
    private enum Layout : byte
    {
        Both,
        CodesOnly,
        SlotsOnly,
    }

    private static Layout LayoutOf(ReadOnlySpan<int> codes, ReadOnlySpan<uint> slots)
    {
        if (!slots.ContainsAnyExcept(CellCode.NoNumber))
        {
            return Layout.CodesOnly;
        }

        foreach (var code in codes)
        {
            if (code is not (CellCode.Untracked or CellCode.Missing))
            {
                return Layout.Both;
            }
        }

        return Layout.SlotsOnly;
    }

    /// <summary>Goes back to the first block for pass 2.</summary>
    public void Rewind()
    {
        _file.Flush();
        _file.Position = 0;
    }

    /// <summary>Reads the next block; false at the end.</summary>
    public bool Read()
    {
        Span<int> count = stackalloc int[1];
        if (_file.ReadAtLeast(MemoryMarshal.AsBytes(count), sizeof(int), throwOnEndOfStream: false) == 0)
        {
            Count = 0;
            return false;
        }

        Ensure(count[0]);
        Count = count[0];
        _file.ReadExactly(Split.AsSpan(0, Count));
        _file.ReadExactly(MemoryMarshal.AsBytes(TargetId.AsSpan(0, Count)));
        _file.ReadExactly(MemoryMarshal.AsBytes(TargetNumber.AsSpan(0, Count)));
        for (var c = 0; c < Code.Length; c++)
        {
            if (c == _target)
            {
                continue;
            }

            var codes = Code[c].AsSpan(0, Count);
            var slots = Slot[c].AsSpan(0, Count);
            var layout = (Layout)_file.ReadByte();
            if (layout == Layout.SlotsOnly)
            {
                _file.ReadExactly(MemoryMarshal.AsBytes(slots));
                for (var k = 0; k < slots.Length; k++)
                {
                    codes[k] = slots[k] == MissingSlot ? CellCode.Missing : CellCode.Untracked;
                }

                continue;
            }

            _file.ReadExactly(MemoryMarshal.AsBytes(codes));
            if (layout == Layout.CodesOnly)
            {
                slots.Fill(CellCode.NoNumber);
            }
            else
            {
                _file.ReadExactly(MemoryMarshal.AsBytes(slots));
            }
        }

        return true;
    }

    private void Ensure(int size)
    {
        if (Row.Length >= size)
        {
            return;
        }

        Row = Resized(Row, size);
        Train = Resized(Train, size);
        Split = Resized(Split, size);
        TargetId = Resized(TargetId, size);
        TargetNumber = Resized(TargetNumber, size);
        for (var c = 0; c < Code.Length; c++)
        {
            Code[c] = Resized(Code[c] ?? [], size);
            Slot[c] = Resized(Slot[c] ?? [], size);
        }
    }

    private static T[] Resized<T>(T[] array, int size)
    {
        Array.Resize(ref array, size);
        return array;
    }

    public void Dispose() => _file.Dispose();
}
