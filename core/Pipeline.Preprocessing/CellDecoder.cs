using Pipeline.Contracts;
using Pipeline.Datasets;

namespace Pipeline.Preprocessing;

/// <summary>
/// Encodes a spilled cell (<see cref="CellCode"/> and slot) as <see cref="FeatureEncoder"/> encodes its text: what a value
/// means for the column's kind is worked out once per distinct value here, from the text pass 1 tracked, not once per cell.
/// Counts the cells the encoder would call missing or unreadable (they get the imputation values).
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
        _parts = encoding.Parts.Select(DateTimeParts.IndexOf).ToArray();
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

    /// <summary>
    /// Decodes the cells <paramref name="rows"/> of a block into the writer's buffers of this column's features, at rows
    /// <paramref name="first"/>, <paramref name="first"/> + 1, … Returns how many were missing or unreadable.
    /// </summary>
    public long Decode(int[] codes, uint[] slots, ReadOnlySpan<int> rows, DatasetParquetWriter writer, int offset, int first)
    {
        long missing = 0;
        switch (_kind)
        {
            case Kind.Numeric:
            {
                var destination = writer.Feature(offset).Slice(first, rows.Length);
                for (var i = 0; i < rows.Length; i++)
                {
                    var k = rows[i];
                    var code = codes[k];
                    var number = BitConverter.UInt32BitsToSingle(slots[k]);
                    if (code == CellCode.Missing || CellCode.IsDate(code) || !float.IsFinite(number))
                    {
                        number = _missing[0];
                        missing++;
                    }

                    destination[i] = number;
                }

                return missing;
            }

            case Kind.Boolean:
            {
                var destination = writer.Feature(offset).Slice(first, rows.Length);
                for (var i = 0; i < rows.Length; i++)
                {
                    var k = rows[i];
                    var code = codes[k];
                    // An id past the table is a number whose text was let go (ColumnProfiler.ReleaseIfNumbers): its slot says.
                    var flag = code >= 0 && code < _booleanOf.Length ? _booleanOf[code] : code switch
                    {
                        CellCode.UntrackedTrue => 1,
                        CellCode.UntrackedFalse => 0,
                        >= 0 or CellCode.Untracked => BitConverter.UInt32BitsToSingle(slots[k]) switch { 1f => 1, 0f => 0, _ => -1 },
                        _ => -1,
                    };
                    if (flag < 0)
                    {
                        destination[i] = _missing[0];
                        missing++;
                    }
                    else
                    {
                        destination[i] = flag;
                    }
                }

                return missing;
            }

            case Kind.Categorical:
            {
                // One-hot: every feature cleared, then one 1 per row (missing rows get the imputation values).
                for (var j = 0; j < _missing.Length; j++)
                {
                    writer.Feature(offset + j).Slice(first, rows.Length).Clear();
                }

                for (var i = 0; i < rows.Length; i++)
                {
                    var code = codes[rows[i]];
                    if (code == CellCode.Missing)
                    {
                        missing++;
                        for (var j = 0; j < _missing.Length; j++)
                        {
                            writer.Feature(offset + j)[first + i] = _missing[j];
                        }
                    }
                    else
                    {
                        writer.Feature(offset + (code >= 0 && code < _categoryOf.Length ? _categoryOf[code] : _other))[first + i] = 1;
                    }
                }

                return missing;
            }

            default:
            {
                Span<float> parts = stackalloc float[_missing.Length];
                for (var i = 0; i < rows.Length; i++)
                {
                    var k = rows[i];
                    if (!DecodeDatetime(codes[k], slots[k], parts))
                    {
                        _missing.CopyTo(parts);
                        missing++;
                    }

                    for (var j = 0; j < parts.Length; j++)
                    {
                        writer.Feature(offset + j)[first + i] = parts[j];
                    }
                }

                return missing;
            }
        }
    }

    private bool DecodeDatetime(int code, uint slot, Span<float> destination)
    {
        // An id past the table is a number whose text was let go: numbers are never dates.
        if (code >= 0 && (code * _parts.Length) < _partsOf.Length && !float.IsNaN(_partsOf[code * _parts.Length]))
        {
            _partsOf.AsSpan(code * _parts.Length, _parts.Length).CopyTo(destination);
            return true;
        }

        if (CellCode.IsDate(code))
        {
            Parts(CellCode.DateOf(code, slot), destination);
            return true;
        }

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
