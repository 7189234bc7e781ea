using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Preprocessing.Formats;

namespace Pipeline.Preprocessing;

/// <summary>
/// One pass over a column's cells in bounded memory: what the values parse as (number, boolean, datetime), distinct values
/// up to a cap with their counts, train-split statistics (Welford mean/variance, min/max, a reservoir sample for an
/// approximate median), and what is needed for leakage warnings.
/// </summary>
internal sealed class ColumnProfiler
{
    /// <summary>How many rows ahead a column's next cells are asked into the cache (<see cref="RowBlock.Prefetch"/>).</summary>
    private const int PrefetchAhead = 16;

    /// <summary>Distinct values up to which <see cref="_recent"/> answers before the dictionary.</summary>
    private const int RecentLimit = 64;

    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    /// <summary>
    /// While a column has few distinct values (categories, flags, small codes, whose lookups run to the end of the file): a
    /// direct-mapped table from a cheap key (length, first and last character) to the id last found under it plus one.
    /// A hit costs one comparison instead of hashing the whole value; a miss falls through to the dictionary.
    /// </summary>
    private readonly int[] _recent = new int[256];
    private readonly int _maxDistinct;

    /// <summary>Characters the tracked distinct values may hold together: long unique texts stop tracking before the count cap.</summary>
    private readonly int _maxTrackedChars;

    private long _trackedChars;
    private readonly int _categoricalCap;
    private readonly int _reservoirSize;
    private double[] _reservoir = [];
    private ulong _random;
    private readonly string? _decimalSeparator;
    private readonly string? _thousandsSeparator;
    private readonly bool _separators;
    private readonly bool _declaredDate;
    private readonly bool _declaredCategorical;
    private double _previous = double.NaN;
    private double _step = double.NaN;

    public ColumnProfiler(string name, ColumnSpec? declared, int maxDistinct, int reservoirSize, int seed, int maxCategoricalDistinct, int maxTrackedChars)
    {
        Name = name;
        Declared = declared;
        _maxDistinct = maxDistinct;
        _maxTrackedChars = maxTrackedChars;
        _categoricalCap = Math.Min(maxCategoricalDistinct, maxDistinct);
        _reservoirSize = reservoirSize;
        _random = (ulong)seed | 1;
        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _decimalSeparator = declared?.DecimalSeparator;
        _thousandsSeparator = declared?.ThousandsSeparator;
        _separators = _decimalSeparator is not null || _thousandsSeparator is not null;
        _declaredDate = declared?.Type == ColumnKinds.Datetime;
        _declaredCategorical = declared?.Type == ColumnKinds.Categorical;
    }

    public string Name { get; }

    public ColumnSpec? Declared { get; }

    public long Present { get; private set; }

    public long Missing { get; private set; }

    public long TrainMissing { get; private set; }

    public long Numbers { get; private set; }

    public long FirstNonNumberLine { get; private set; }

    public string? FirstNonNumber { get; private set; }

    public bool Integers { get; private set; } = true;

    /// <summary>Every present value so far is a number one fixed step (±1) from the previous: a row number.</summary>
    public bool Consecutive { get; private set; } = true;

    public long Booleans { get; private set; }

    /// <summary>Boolean tokens that are not also numbers (yes/no/true/false…).</summary>
    public long BooleanWords { get; private set; }

    public long Dates { get; private set; }

    public bool DatesHaveTime { get; private set; }

    private long _dateFailures;

    public long TotalLength { get; private set; }

    public long WithSpace { get; private set; }

    public long IdenticalToTarget { get; private set; }

    /// <summary>Distinct values overflowed the cap; <see cref="Distinct"/> is a lower bound.</summary>
    public bool Overflow { get; private set; }

    public int Distinct => _released > 0 ? _released : _ids.Count;

    /// <summary>Distinct values tracked when they were let go (0: still tracked); see <see cref="ReleaseIfNumbers"/>.</summary>
    private int _released;

    /// <summary>
    /// How many distinct values are tracked before the column overflows. Once a value has been seen with two classes, the
    /// column can no longer predict the target perfectly, and past the categorical limit it can be neither a category nor
    /// a leak (numbers are numeric features, text that varied is an identifier or free text): tracking on would only make
    /// its distinct count exact up to the full cap, which cost ~7% of a 100 MB build with 16 such columns. Declared columns
    /// (and the target, which sees no conflicts) keep the full cap.
    /// </summary>
    private int Cap => TargetConflicts > 0 && Declared is null ? _categoricalCap : _maxDistinct;

    /// <summary>No room for another distinct value of <paramref name="length"/> characters: the cap on their count or on their characters.</summary>
    private bool Full(int length) => _ids.Count >= Cap || _trackedChars + length > _maxTrackedChars;

    public List<string> Values { get; } = [];

    public List<long> Counts { get; } = [];

    public List<long> TrainCounts { get; } = [];

    /// <summary>Per distinct value: the target id it was seen with (-1 none yet); <see cref="TargetConflicts"/> counts values seen with two.</summary>
    private readonly List<int> _targetOf = [];

    public long TargetConflicts { get; private set; }

    // Train-split statistics of the values that parse as numbers.
    public Welford Train { get; } = new();

    public long TrainBooleans { get; private set; }

    public long TrainTrue { get; private set; }

    public Welford[] TrainDateParts { get; } = DateTimeParts.All.Select(_ => new Welford()).ToArray();

    /// <summary>Co-moment with a numeric target over train rows where both are numbers.</summary>
    public Comoment TargetComoment { get; } = new();

    private long _reservoirSeen;

    /// <summary>Algorithm L's state once the reservoir is full: its weight, and which value (counted from 1) enters next.</summary>
    private double _skipWeight;

    private long _nextSampled = long.MaxValue;

    /// <summary>Scratch for <see cref="ObserveNumbers"/>: the block's train numbers.</summary>
    private double[] _trainNumbers = [];

    /// <summary>
    /// Observes column <paramref name="ordinal"/> of the block's kept rows (<paramref name="rows"/>), writing each cell's
    /// code and slot into the spill's arrays for schema column <paramref name="column"/>.
    /// </summary>
    public void ObserveRows(RowBlock block, int ordinal, int targetOrdinal, RowSpill rows, int column)
    {
        var codes = rows.Code[column];
        var slots = rows.Slot[column];
        for (var k = 0; k < rows.Count; k++)
        {
            if ((_released > 0 || (Numbers == Present && !Overflow && !_separators)) && !Consecutive && IdenticalToTarget < Present)
            {
                // A column of numbers so far, tracked or past the distinct cap, in a loop of its own.
                k = ObserveNumbers(block, ordinal, rows, codes, slots, k);
                if (k == rows.Count)
                {
                    return;
                }
            }

            if (k + (2 * PrefetchAhead) < rows.Count)
            {
                block.PrefetchCell(rows.Row[k + (2 * PrefetchAhead)], ordinal);
                block.Prefetch(rows.Row[k + PrefetchAhead], ordinal);
            }

            var r = rows.Row[k];
            codes[k] = Observe(block.Field(r, ordinal), rows.Train[k], rows.TargetId[k], rows.TargetNumber[k], block.Field(r, targetOrdinal), block.Line(r), out slots[k]);
        }
    }

    /// <summary>
    /// <see cref="Observe"/> for a column of numbers (every present value so far, or its distinct values were let go)
    /// whose identical-to-target and row-number checks have failed: the same counts and statistics with the counters in
    /// locals, and the train statistics taken a block at a time. Stops at the first cell that is neither missing nor a
    /// number, or a new distinct value past the cap, and returns its index (<see cref="Observe"/> takes it from there).
    /// A column of integers with a few hundred values (counts, codes) is tracked to the end: before this loop took
    /// them, such a column was the slowest of a block.
    /// </summary>
    private int ObserveNumbers(RowBlock block, int ordinal, RowSpill rows, int[] codes, uint[] slots, int k)
    {
        long present = Present, numbers = Numbers, missing = Missing, trainMissing = TrainMissing, totalLength = TotalLength;
        var integers = Integers;
        var tracked = _released == 0;
        var row = rows.Row;
        var trains = rows.Train;
        var targetNumbers = rows.TargetNumber;
        var targetIds = rows.TargetId;
        if (_trainNumbers.Length < rows.Count)
        {
            _trainNumbers = new double[rows.Count];
        }

        var trainNumbers = _trainNumbers;
        var trainCount = 0;
        for (; k < rows.Count; k++)
        {
            if (k + (2 * PrefetchAhead) < rows.Count)
            {
                block.PrefetchCell(row[k + (2 * PrefetchAhead)], ordinal);
                block.Prefetch(row[k + PrefetchAhead], ordinal);
            }

            var value = block.Field(row[k], ordinal);
            var train = trains[k];
            if (RawValues.IsMissing(value))
            {
                missing++;
                trainMissing += train ? 1 : 0;
                codes[k] = CellCode.Missing;
                slots[k] = CellCode.NoNumber;
                continue;
            }

            if (!RawValues.TryParseNumber(value, out var number))
            {
                break;
            }

            var code = CellCode.Untracked;
            if (tracked)
            {
                if (!TryFind(value, out code))
                {
                    if (Full(value.Length))
                    {
                        break;
                    }

                    code = AddValue(value);
                }

                CountValue(code, train, targetIds[k]);
            }

            present++;
            numbers++;
            totalLength += value.Length;
            integers &= number == Math.Floor(number);
            if (train)
            {
                // The train statistics and the sample take the block's train numbers at once, below.
                trainNumbers[trainCount++] = number;
            }

            ObserveNumberBesidesStatistics(value, number, train, targetNumbers[k]);
            codes[k] = code;
            slots[k] = Slot(number);
        }

        Train.AddRange(trainNumbers.AsSpan(0, trainCount));
        SampleRange(trainNumbers.AsSpan(0, trainCount));

        Present = present;
        Numbers = numbers;
        Missing = missing;
        TrainMissing = trainMissing;
        TotalLength = totalLength;
        Integers = integers;
        return k;
    }

    /// <summary>
    /// Observes one trimmed cell. Returns its <see cref="CellCode"/> (the value's distinct id when it is tracked) and its
    /// number slot, which together let pass 2 encode the cell as whatever type the column turns out to be without the text.
    /// </summary>
    public int Observe(ReadOnlySpan<char> value, bool train, int targetId, double targetNumber, ReadOnlySpan<char> targetText, long line, out uint slot)
    {
        slot = CellCode.NoNumber;
        if (RawValues.IsMissing(value))
        {
            Missing++;
            if (train)
            {
                TrainMissing++;
            }

            return CellCode.Missing;
        }

        var untracked = CellCode.Untracked;
        DateTime? date = null;

        Present++;
        TotalLength += value.Length;
        if (IdenticalToTarget == Present - 1 && value.SequenceEqual(targetText))
        {
            IdenticalToTarget++;
        }

        if (_separators ? RawValues.TryParseNumber(value, _decimalSeparator, _thousandsSeparator, out var number) : RawValues.TryParseNumber(value, out number))
        {
            slot = Slot(number);
            Numbers++;
            if (Integers && number != Math.Floor(number))
            {
                Integers = false;
            }

            if (Consecutive)
            {
                var step = number - _previous;
                Consecutive = double.IsNaN(_previous) || (Math.Abs(step) == 1 && (double.IsNaN(_step) || step == _step));
                _step = double.IsNaN(_previous) ? double.NaN : step;
                _previous = number;
            }

            ObserveNumber(value, number, train, targetNumber);
        }
        else
        {
            Consecutive = false;
            foreach (var c in value)
            {
                // A loop: for short cells a vectorized search costs more to set up than it saves.
                if (c == ' ')
                {
                    WithSpace++;
                    break;
                }
            }

            if (FirstNonNumber is null)
            {
                FirstNonNumber = value.Length > 40 ? value[..40].ToString() + "…" : value.ToString();
                FirstNonNumberLine = line;
            }

            if (RawValues.TryParseBoolean(value, out var flag))
            {
                BooleanWords++;
                CountBoolean(flag, train);
                untracked = flag ? CellCode.UntrackedTrue : CellCode.UntrackedFalse;
            }
            else if (_dateFailures < 100 || Dates > _dateFailures || _declaredDate)
            {
                if (RawValues.TryParseDateTime(value, out var time))
                {
                    date = time;
                    Dates++;
                    DatesHaveTime |= time.TimeOfDay != TimeSpan.Zero;
                    if (train)
                    {
                        Span<double> parts = stackalloc double[DateTimeParts.All.Length];
                        DateTimeParts.Of(time, parts);
                        for (var p = 0; p < parts.Length; p++)
                        {
                            TrainDateParts[p].Add(parts[p]);
                        }
                    }
                }
                else
                {
                    _dateFailures++;
                }
            }
        }

        if (Overflow)
        {
            // Past the cap values are no longer counted; a declared categorical column still needs the ids it has.
            return _declaredCategorical && _lookup.TryGetValue(value, out var known) ? known : Untracked(untracked, date, ref slot);
        }

        if (!TryFind(value, out var id))
        {
            if (Full(value.Length))
            {
                Overflow = true;
                ReleaseIfNumbers();
                return Untracked(untracked, date, ref slot);
            }

            id = AddValue(value);
        }

        CountValue(id, train, targetId);
        return id;
    }

    /// <summary>The id of tracked value <paramref name="value"/>, through <see cref="_recent"/> while there are few.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryFind(ReadOnlySpan<char> value, out int id)
    {
        if (_ids.Count > RecentLimit || value.IsEmpty)
        {
            return _lookup.TryGetValue(value, out id);
        }

        var key = ((value.Length * 31) + (value[0] * 7) + value[^1]) & 255;
        id = _recent[key] - 1;
        if (id >= 0 && CollectionsMarshal.AsSpan(Values)[id].AsSpan().SequenceEqual(value))
        {
            return true;
        }

        if (_lookup.TryGetValue(value, out id))
        {
            _recent[key] = id + 1;
            return true;
        }

        return false;
    }

    /// <summary>Tracks a new distinct value; returns its id.</summary>
    private int AddValue(ReadOnlySpan<char> value)
    {
        var id = _ids.Count;
        _trackedChars += value.Length;
        var text = value.ToString();
        _ids.Add(text, id);
        Values.Add(text);
        Counts.Add(0);
        TrainCounts.Add(0);
        _targetOf.Add(-1);
        return id;
    }

    /// <summary>Counts an occurrence of tracked value <paramref name="id"/> and the target it was seen with.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CountValue(int id, bool train, int targetId)
    {
        Counts[id]++;
        if (train)
        {
            TrainCounts[id]++;
        }

        if (targetId >= 0)
        {
            var seen = _targetOf[id];
            if (seen == -1)
            {
                _targetOf[id] = targetId;
            }
            else if (seen != targetId && seen != -2)
            {
                _targetOf[id] = -2;
                TargetConflicts++;
            }
        }
    }

    /// <summary>
    /// A column of numbers past the distinct cap needs its tracked values no more (it is encoded from its slots, and
    /// is no category column; a boolean or date column decodes the ids spilled before as the numbers they were): they are let
    /// go, ~100 bytes each, unless dataset.json declares anything about the column.
    /// </summary>
    private void ReleaseIfNumbers()
    {
        if (Numbers != Present || Declared is not null)
        {
            return;
        }

        _released = _ids.Count;
        _ids.Clear();
        _ids.TrimExcess();
        Array.Clear(_recent);
        Values.Clear();
        Values.TrimExcess();
        Counts.Clear();
        Counts.TrimExcess();
        TrainCounts.Clear();
        TrainCounts.TrimExcess();
        _targetOf.Clear();
        _targetOf.TrimExcess();
    }

    /// <summary>What a cell that is a number adds beyond the counts: train statistics and sample, and the rest below.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ObserveNumber(ReadOnlySpan<char> value, double number, bool train, double targetNumber)
    {
        if (train)
        {
            Train.Add(number);
            Sample(number);
        }

        ObserveNumberBesidesStatistics(value, number, train, targetNumber);
    }

    /// <summary>What a number adds besides the train statistics and sample: the co-moment with the target, and a 1/0 digit as a boolean.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ObserveNumberBesidesStatistics(ReadOnlySpan<char> value, double number, bool train, double targetNumber)
    {
        if (train && !double.IsNaN(targetNumber))
        {
            TargetComoment.Add(number, targetNumber);
        }

        if (value.Length == 1 && RawValues.TryParseBoolean(value, out var digit))
        {
            CountBoolean(digit, train);
        }
    }

    /// <summary>A number's slot: the float the encoder would write; beyond float's range none (the encoder imputes those).</summary>
    private static uint Slot(double number) => Math.Abs(number) <= float.MaxValue ? BitConverter.SingleToUInt32Bits((float)number) : CellCode.NoNumber;

    /// <summary>The code of a value that is not tracked: an untracked date keeps its minutes in the slot.</summary>
    private static int Untracked(int code, DateTime? date, ref uint slot) => date is { } time ? CellCode.Date(time, out slot) : code;

    /// <summary>Approximate train median: exact up to the reservoir's size, a uniform sample's median beyond.</summary>
    public double TrainMedian()
    {
        var n = (int)Math.Min(_reservoirSeen, _reservoir.Length);
        if (n == 0)
        {
            return 0;
        }

        // The middle one or two of the sample, selected in linear time: sorting 20,000 values of every numeric column
        // took longer than the rest of deciding, which nothing overlaps.
        var values = _reservoir.AsSpan(0, n);
        var upper = Selection.Select(values, n / 2);
        return n % 2 == 1 ? upper : (Selection.Max(values[..(n / 2)]) + upper) / 2;
    }

    private void CountBoolean(bool value, bool train)
    {
        Booleans++;
        if (train)
        {
            TrainBooleans++;
            if (value)
            {
                TrainTrue++;
            }
        }
    }

    private void Sample(double value) => SampleRange(new ReadOnlySpan<double>(in value));

    /// <summary>
    /// Offers values to the reservoir (a uniform sample of every train number seen). Once it is full, Li's Algorithm L draws
    /// how many values to pass over before the next one enters, so the values passed over cost nothing: a column's sample
    /// takes some k·ln(n/k) random draws instead of one per value.
    /// </summary>
    private void SampleRange(ReadOnlySpan<double> values)
    {
        var i = 0;
        for (; i < values.Length && _reservoirSeen < _reservoirSize; i++)
        {
            _reservoirSeen++;
            if (_reservoirSeen > _reservoir.Length)
            {
                // Grown as values come: columns with few numbers never hold the whole sample's memory.
                Array.Resize(ref _reservoir, (int)Math.Min(_reservoirSize, Math.Max(64, _reservoir.Length * 2L)));
            }

            _reservoir[_reservoirSeen - 1] = values[i];
            if (_reservoirSeen == _reservoirSize)
            {
                _skipWeight = Math.Exp(Math.Log(Uniform()) / _reservoirSize);
                _nextSampled = _reservoirSeen + Skip();
            }
        }

        // values[i] is value number _reservoirSeen + 1 of the column; the next to enter is number _nextSampled.
        var seen = _reservoirSeen - i;
        while (_nextSampled <= seen + values.Length)
        {
            _reservoir[XorShift.Below(ref _random, (ulong)_reservoirSize)] = values[(int)(_nextSampled - seen - 1)];
            _skipWeight *= Math.Exp(Math.Log(Uniform()) / _reservoirSize);
            _nextSampled += Skip();
        }

        _reservoirSeen = seen + values.Length;
    }

    /// <summary>How far the next value to enter the full reservoir is from the last (at least 1).</summary>
    private long Skip() => (long)Math.Min(Math.Floor(Math.Log(Uniform()) / Math.Log(1 - _skipWeight)), long.MaxValue / 4) + 1;

    /// <summary>A number in (0, 1).</summary>
    private double Uniform() => (XorShift.Below(ref _random, 1UL << 52) + 0.5) / (1UL << 52);
}

/// <summary>
/// What pass 1 keeps of a cell for pass 2: a code (a tracked value's distinct id, or one of the negative codes here) and a
/// 32-bit slot (the value as a float when it is a number; part of the minutes of an untracked date).
/// </summary>
internal static class CellCode
{
    public const int Missing = -1;

    /// <summary>Present, not among the tracked distinct values (past the cap); the slot holds its number, if any.</summary>
    public const int Untracked = -2;

    /// <summary>Untracked boolean words (yes/no/true/false…, not 1/0, which are numbers).</summary>
    public const int UntrackedFalse = -3;

    public const int UntrackedTrue = -4;

    /// <summary>Untracked dates: minutes since 0001-01-01 in 33 bits, the high bit in the code, the low 32 in the slot.</summary>
    private const int DateBase = -5;

    public static readonly uint NoNumber = BitConverter.SingleToUInt32Bits(float.NaN);

    public static int Date(DateTime time, out uint slot)
    {
        var minutes = time.Ticks / TimeSpan.TicksPerMinute;
        slot = (uint)minutes;
        return DateBase - (int)(minutes >> 32);
    }

    public static bool IsDate(int code) => code <= DateBase;

    public static DateTime DateOf(int code, uint slot) => new((((long)(DateBase - code) << 32) | slot) * TimeSpan.TicksPerMinute);
}

/// <summary>Streaming count, mean, variance (Welford), min and max.</summary>
public sealed class Welford
{
    public long Count { get; private set; }

    public double Mean { get; private set; }

    public double M2 { get; private set; }

    public double Min { get; private set; } = double.PositiveInfinity;

    public double Max { get; private set; } = double.NegativeInfinity;

    public void Add(double value)
    {
        Count++;
        var delta = value - Mean;
        Mean += delta / Count;
        M2 += delta * (value - Mean);
        Min = Math.Min(Min, value);
        Max = Math.Max(Max, value);
    }

    /// <summary>
    /// Adds many values at once: their own mean and squared deviations (two passes over them), merged into the running
    /// ones by Chan et al.'s pairwise update — as precise as <see cref="Add"/> one value at a time, without its division
    /// and dependency chain on every value.
    /// </summary>
    public void AddRange(ReadOnlySpan<double> values)
    {
        if (values.IsEmpty)
        {
            return;
        }

        // Summed as differences from the first value: a plain sum of values far from zero with a small spread rounds
        // away the spread. Four lanes at a time (four independent sums, minima and maxima), the rest one by one.
        var shift = values[0];
        double sum = 0, min = Min, max = Max;
        var i = 0;
        var vectors = Vector256.IsHardwareAccelerated && values.Length >= 2 * Vector256<double>.Count;
        ref var first = ref MemoryMarshal.GetReference(values);
        if (vectors)
        {
            var shifts = Vector256.Create(shift);
            var sums = Vector256<double>.Zero;
            var minima = Vector256.Create(min);
            var maxima = Vector256.Create(max);
            for (; i <= values.Length - Vector256<double>.Count; i += Vector256<double>.Count)
            {
                var lane = Vector256.LoadUnsafe(ref first, (nuint)i);
                sums += lane - shifts;
                minima = Vector256.Min(minima, lane);
                maxima = Vector256.Max(maxima, lane);
            }

            sum = Vector256.Sum(sums);
            for (var k = 0; k < Vector256<double>.Count; k++)
            {
                min = Math.Min(min, minima[k]);
                max = Math.Max(max, maxima[k]);
            }
        }

        for (; i < values.Length; i++)
        {
            var value = values[i];
            sum += value - shift;
            min = Math.Min(min, value);
            max = Math.Max(max, value);
        }

        var mean = shift + (sum / values.Length);
        double m2 = 0;
        i = 0;
        if (vectors)
        {
            var means = Vector256.Create(mean);
            var squares = Vector256<double>.Zero;
            for (; i <= values.Length - Vector256<double>.Count; i += Vector256<double>.Count)
            {
                var deviation = Vector256.LoadUnsafe(ref first, (nuint)i) - means;
                squares += deviation * deviation;
            }

            m2 = Vector256.Sum(squares);
        }

        for (; i < values.Length; i++)
        {
            var deviation = values[i] - mean;
            m2 += deviation * deviation;
        }

        var count = Count + values.Length;
        var delta = mean - Mean;
        Mean += delta * values.Length / count;
        M2 += m2 + (delta * delta * Count * values.Length / count);
        Count = count;
        Min = min;
        Max = max;
    }

    /// <summary>Mean and population std after adding <paramref name="imputed"/> copies of <paramref name="fill"/>.</summary>
    public (double Mean, double Std) WithImputed(long imputed, double fill)
    {
        var n = Count + imputed;
        if (n == 0)
        {
            return (fill, 0);
        }

        var mean = ((Count * Mean) + (imputed * fill)) / n;
        var delta = fill - Mean;
        var m2 = M2 + (delta * delta * Count * imputed / n);
        return (mean, Math.Sqrt(Math.Max(0, m2 / n)));
    }
}

/// <summary>Streaming Pearson correlation.</summary>
internal sealed class Comoment
{
    private long _n;
    private double _meanX;
    private double _meanY;
    private double _cxy;
    private double _m2X;
    private double _m2Y;

    public void Add(double x, double y)
    {
        _n++;
        var dx = x - _meanX;
        _meanX += dx / _n;
        var dy = y - _meanY;
        _meanY += dy / _n;
        _cxy += dx * (y - _meanY);
        _m2X += dx * (x - _meanX);
        _m2Y += dy * (y - _meanY);
    }

    public double Correlation => _n < 3 || _m2X <= 0 || _m2Y <= 0 ? 0 : _cxy / Math.Sqrt(_m2X * _m2Y);
}
