using Pipeline.Contracts;
using Pipeline.Datasets;

namespace Pipeline.Functions.Preprocess;

/// <summary>
/// Encodes a spilled cell (<see cref="CellCode"/> and slot) as <see cref="FeatureEncoder"/> encodes its text: what a value
/// means for the column's kind is worked out once per distinct value here, from the text pass 1 tracked, not once per cell.
/// Returns false where the encoder would (missing or unreadable: the imputation values are written).
/// </summary>
internal sealed class CellDecoder
{
    private readonly Kind _kind;
    private readonly float[] _missing;
    private readonly int[] _parts;

    // Per tracked distinct id: boolean (1, 0, -1 unreadable), category index, datetime parts (NaN first part: unreadable).
    private readonly sbyte[] _booleanOf = [];
    private readonly int[] _categoryOf = [];
    private readonly float[] _partsOf = [];
    private readonly int _other;

    public CellDecoder(ColumnEncoding encoding, ColumnProfiler column)
    {
        _kind = encoding.Kind switch
        {
            ColumnKinds.Numeric => Kind.Numeric,
            ColumnKinds.Boolean => Kind.Boolean,
            ColumnKinds.Categorical => Kind.Categorical,
            ColumnKinds.Datetime => Kind.Datetime,
            _ => throw new ArgumentException($"Column '{encoding.Column}' has unknown encoding kind '{encoding.Kind}'.", nameof(encoding)),
        };
        _missing = encoding.Missing.Select(m => (float)m).ToArray();
        _parts = encoding.Parts.Select(p => Array.IndexOf(DateTimeParts.All, p)).ToArray();
        _other = encoding.Categories.Count;
        var values = column.Values;
        switch (_kind)
        {
            case Kind.Boolean:
                _booleanOf = values.Select(v => (sbyte)(RawValues.TryParseBoolean(v, out var flag) ? (flag ? 1 : 0) : -1)).ToArray();
                break;
            case Kind.Categorical:
                var index = new Dictionary<string, int>(StringComparer.Ordinal);
                for (var k = 0; k < encoding.Categories.Count; k++)
                {
                    index.TryAdd(encoding.Categories[k], k);
                }

                _categoryOf = values.Select(v => index.GetValueOrDefault(v, _other)).ToArray();
                break;
            case Kind.Datetime:
                _partsOf = new float[values.Count * _parts.Length];
                for (var id = 0; id < values.Count; id++)
                {
                    var parts = _partsOf.AsSpan(id * _parts.Length, _parts.Length);
                    if (RawValues.TryParseDateTime(values[id], out var time))
                    {
                        Parts(time, parts);
                    }
                    else if (parts.Length > 0)
                    {
                        parts[0] = float.NaN;
                    }
                }

                break;
        }
    }

    public bool Decode(int code, uint slot, Span<float> destination)
    {
        if (code != CellCode.Missing)
        {
            switch (_kind)
            {
                case Kind.Numeric:
                    var number = BitConverter.UInt32BitsToSingle(slot);
                    if (!CellCode.IsDate(code) && float.IsFinite(number))
                    {
                        destination[0] = number;
                        return true;
                    }

                    break;
                case Kind.Boolean:
                    var flag = code >= 0 ? _booleanOf[code] : code switch
                    {
                        CellCode.UntrackedTrue => 1,
                        CellCode.UntrackedFalse => 0,
                        CellCode.Untracked => BitConverter.UInt32BitsToSingle(slot) switch { 1f => 1, 0f => 0, _ => -1 },
                        _ => -1,
                    };
                    if (flag >= 0)
                    {
                        destination[0] = flag;
                        return true;
                    }

                    break;
                case Kind.Categorical:
                    destination[.._missing.Length].Clear();
                    destination[code >= 0 ? _categoryOf[code] : _other] = 1;
                    return true;
                case Kind.Datetime:
                    if (code >= 0 && !float.IsNaN(_partsOf[code * _parts.Length]))
                    {
                        _partsOf.AsSpan(code * _parts.Length, _parts.Length).CopyTo(destination);
                        return true;
                    }

                    if (CellCode.IsDate(code))
                    {
                        Parts(CellCode.DateOf(code, slot), destination);
                        return true;
                    }

                    break;
            }
        }

        _missing.CopyTo(destination);
        return false;
    }

    private void Parts(DateTime time, Span<float> destination)
    {
        Span<double> all = stackalloc double[DateTimeParts.All.Length];
        DateTimeParts.Of(time, all);
        for (var p = 0; p < _parts.Length; p++)
        {
            destination[p] = (float)all[_parts[p]];
        }
    }

    private enum Kind
    {
        Numeric,
        Boolean,
        Categorical,
        Datetime,
    }
}
