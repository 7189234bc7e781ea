using Pipeline.Contracts;
using Pipeline.Datasets;

namespace Pipeline.Monitoring;

/// <summary>
/// Labelled outcomes (id → true label or value) held in memory, bounded by <see cref="DriftOptions.MaxOutcomeRows"/>,
/// and matched against the observed rows as the drift report reads them: each outcome counts once, with the newest
/// observed row of its id (rows are read newest first). Not thread-safe.
/// </summary>
public sealed class OutcomeJoin
{
    private readonly Dictionary<string, string> _outcomes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly bool _classification;
    private long _correct;
    private double _sumY;
    private double _sumY2;
    private double _squaredError;

    public OutcomeJoin(string idColumn, string labelColumn, bool classification, double? test)
    {
        _lookup = _outcomes.GetAlternateLookup<ReadOnlySpan<char>>();
        _classification = classification;
        Result = new LiveOutcomes { IdColumn = idColumn, LabelColumn = labelColumn, Metric = classification ? "accuracy" : "r2", Test = test };
    }

    /// <summary>What was read and matched so far; <see cref="Finish"/> completes it.</summary>
    public LiveOutcomes Result { get; }

    public string IdColumn => Result.IdColumn;

    /// <summary>Whether outcomes are waiting for a match (else observed rows need no id lookup).</summary>
    public bool Waiting => _outcomes.Count > 0;

    /// <summary>Adds one outcome row; an id without a usable label (regression: not a number) counts as unreadable.</summary>
    public void Add(ReadOnlySpan<char> id, ReadOnlySpan<char> label)
    {
        id = Canonical(id);
        label = label.Trim();
        if (id.IsEmpty || RawValues.IsMissing(label) || (!_classification && !RawValues.TryParseNumber(label, out _)))
        {
            Result.UnreadableRows++;
            return;
        }

        Result.Rows++;
        if (_lookup.ContainsKey(id))
        {
            Result.DuplicateIds++;
        }

        _lookup[id] = label.ToString();
    }

    /// <summary>An observed classification row: its id and the label the model predicted.</summary>
    public void MatchLabel(ReadOnlySpan<char> id, ReadOnlySpan<char> predicted)
    {
        if (_lookup.Remove(Canonical(id), out _, out var truth))
        {
            Result.Matched++;
            _correct += predicted.Trim().SequenceEqual(truth) ? 1 : 0;
        }
    }

    /// <summary>An observed regression row: its id and the value the model predicted.</summary>
    public void MatchValue(ReadOnlySpan<char> id, double predicted)
    {
        if (_lookup.Remove(Canonical(id), out _, out var truth))
        {
            var y = RawValues.TryParseNumber(truth, out var value) ? value : double.NaN;
            Result.Matched++;
            _sumY += y;
            _sumY2 += y * y;
            _squaredError += (y - predicted) * (y - predicted);
        }
    }

    /// <summary>
    /// The id as it is matched: trimmed, and an integer written with a zero fraction (<c>17.0</c>, as a float column or a
    /// spreadsheet rewrites integer ids) as the integer (<c>17</c>). Any other id as written: <c>007</c> stays <c>007</c>.
    /// </summary>
    private static ReadOnlySpan<char> Canonical(ReadOnlySpan<char> id)
    {
        id = id.Trim();
        var dot = id.IndexOf('.');
        if (dot > 0 && id[(dot + 1)..].TrimStart('0').IsEmpty && dot + 1 < id.Length)
        {
            var whole = id[..dot];
            var digits = whole[0] == '-' ? whole[1..] : whole;
            if (!digits.IsEmpty && !digits.ContainsAnyExceptInRange('0', '9'))
            {
                return whole;
            }
        }

        return id;
    }

    /// <summary>The live metric over the matched rows; the outcomes left unmatched are counted.</summary>
    public LiveOutcomes Finish()
    {
        Result.UnmatchedOutcomes = _outcomes.Count;
        var n = Result.Matched;
        if (n == 0)
        {
            Result.Live = null;
        }
        else if (_classification)
        {
            Result.Live = (double)_correct / n;
        }
        else
        {
            // R² = 1 − SS_res / SS_tot, as the trainer computes it on the test split; undefined when the outcomes do not vary.
            var total = _sumY2 - (_sumY * _sumY / n);
            Result.Live = total > 1e-12 * Math.Max(1, _sumY2) ? 1 - (_squaredError / total) : null;
        }

        return Result;
    }
}
