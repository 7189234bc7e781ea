namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// Walks a Parquet footer (a Thrift compact-protocol struct) with every read bounds-checked before the Parquet reader sees
/// it: a footer whose list or string sizes run past its end, or that nests too deep, is refused. The reader trusts those
/// sizes, and a mutated footer could keep it skipping fields past its end for ever (found by the hostile-file run).
/// </summary>
internal static class ThriftFooterCheck
{
    private const int MaxDepth = 64;

    /// <summary>Throws <see cref="InvalidDataException"/> when <paramref name="footer"/> is not one well-formed struct.</summary>
    public static void Check(ReadOnlySpan<byte> footer)
    {
        var position = 0;
        SkipStruct(footer, ref position, 0);
    }

    private static void SkipStruct(ReadOnlySpan<byte> data, ref int position, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidDataException("the footer nests deeper than 64 levels");
        }

        while (true)
        {
            var header = Byte(data, ref position);
            var type = header & 0x0F;
            if (type == 0)
            {
                return; // STOP
            }

            if (header >> 4 == 0)
            {
                Varint(data, ref position); // a field id that is not a small delta
            }

            Skip(data, ref position, type, depth);
        }
    }

    private static void Skip(ReadOnlySpan<byte> data, ref int position, int type, int depth)
    {
        switch (type)
        {
            case 1 or 2: // boolean true/false, in the field header
                return;
            case 3: // byte
                Byte(data, ref position);
                return;
            case 4 or 5 or 6: // i16, i32, i64 varints
                Varint(data, ref position);
                return;
            case 7: // double
                Take(data, ref position, 8);
                return;
            case 8: // binary: a varint length and the bytes
                Take(data, ref position, Varint(data, ref position));
                return;
            case 9 or 10: // list, set
                var header = Byte(data, ref position);
                var size = (ulong)(header >> 4);
                if (size == 15)
                {
                    size = Varint(data, ref position);
                }

                // Every element takes at least a byte: a size past what is left is a lie.
                Within(data, position, size);
                var element = header & 0x0F;
                for (ulong i = 0; i < size; i++)
                {
                    if (element is 1 or 2)
                    {
                        Byte(data, ref position); // booleans in a list take a byte each
                    }
                    else
                    {
                        Skip(data, ref position, element, depth + 1);
                    }
                }

                return;
            case 11: // map
                var entries = Varint(data, ref position);
                if (entries == 0)
                {
                    return;
                }

                Within(data, position, entries);
                var types = Byte(data, ref position);
                for (ulong i = 0; i < entries; i++)
                {
                    Skip(data, ref position, types >> 4, depth + 1);
                    Skip(data, ref position, types & 0x0F, depth + 1);
                }

                return;
            case 12: // struct
                SkipStruct(data, ref position, depth + 1);
                return;
            default:
                throw new InvalidDataException($"the footer has a field of unknown type {type}");
        }
    }

    private static int Byte(ReadOnlySpan<byte> data, ref int position) =>
        position < data.Length ? data[position++] : throw new InvalidDataException("the footer ends inside a field");

    private static ulong Varint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            var b = Byte(data, ref position);
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("the footer has a number longer than 10 bytes");
    }

    private static void Take(ReadOnlySpan<byte> data, ref int position, ulong count)
    {
        Within(data, position, count);
        position += (int)count;
    }

    private static void Within(ReadOnlySpan<byte> data, int position, ulong count)
    {
        if (count > (ulong)(data.Length - position))
        {
            throw new InvalidDataException($"the footer declares {count} bytes or elements where {data.Length - position} bytes are left");
        }
    }
}
