using System.Globalization;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace Pipeline.Tests.Infrastructure;

/// <summary>Seeded hostile files: file <c>i</c> is always the same bytes.</summary>
public static class HostileFile
{
    private static readonly string[] TextNames = ["data.csv", "data.tsv", "data.txt", "data.jsonl", "data.ndjson", "data"];

    private static readonly string[] LineEnds = ["\n", "\r\n", "\r"];

    private static readonly string[] Words = ["NA", "", "yes", "no", "red", "blue", "2024-02-29", "1,5", "\"q,uoted\"", "\"open", "é😀", "1e309"];

    private static readonly string?[] Cities = ["oslo", "rome", null, "lima"];

    private static readonly string[] Bombs =
        ["gzip-bomb", "wide", "huge-cell", "long-line", "parquet-rows", "parquet-footer", "nested-json", "parquet-bomb-gz"];

    /// <summary>The kinds of bomb, each aimed at one limit.</summary>
    public static IReadOnlyList<string> BombKinds => Bombs;

    /// <summary>One bomb of <paramref name="kind"/> (see <see cref="BombKinds"/>), the same bytes every time.</summary>
    public static (string Name, byte[] Bytes) BombFile(string kind) => Bomb(kind, new Random(24));

    /// <summary>Every 25th file is a bomb, in turn.</summary>
    public static string? BombOf(int index) => index % 25 == 24 ? Bombs[index / 25 % Bombs.Length] : null;

    public static (string Name, byte[] Bytes) Generate(int index)
    {
        var random = new Random(index * 7919 + 17);
        if (BombOf(index) is { } bomb)
        {
            return Bomb(bomb, random);
        }

        var (name, bytes) = random.Next(2) == 0
            ? Text(random, TextNames[random.Next(TextNames.Length)])
            : ("data.parquet", RealParquet(random, random.Next(1, 400)));
        bytes = Mutate(random, bytes, name.EndsWith(".parquet", StringComparison.Ordinal));
        if (random.Next(4) == 0)
        {
            bytes = MutateCompressed(random, SyntheticData.Gzip(bytes));
            name += random.Next(3) == 0 ? "" : ".gz"; // gzip without .gz: sniffed
        }

        return (name, bytes);
    }

    private static (string, byte[]) Text(Random random, string name)
    {
        var columns = random.Next(1, 8);
        var rows = random.Next(0, 300);
        var json = name.Contains("json", StringComparison.Ordinal);
        var delimiter = name.EndsWith(".tsv", StringComparison.Ordinal) ? '\t' : ",;|\t"[random.Next(4)];
        var text = new StringBuilder();
        if (!json)
        {
            text.AppendJoin(delimiter, Enumerable.Range(0, columns).Select(c => $"c{c}")).Append('\n');
        }

        for (var r = 0; r < rows; r++)
        {
            var cells = Enumerable.Range(0, columns).Select(c => Cell(random, c));
            if (json)
            {
                text.Append('{').AppendJoin(',', cells.Select((v, c) => $"\"c{c}\":{(double.TryParse(v, CultureInfo.InvariantCulture, out _) ? v : JsonSerializer.Serialize(v))}")).Append("}\n");
            }
            else
            {
                text.AppendJoin(delimiter, cells).Append(LineEnds[random.Next(LineEnds.Length)]);
            }
        }

        return (name, Encoding.UTF8.GetBytes(text.ToString()));
    }

    private static string Cell(Random random, int column) => random.Next(10) switch
    {
        < 5 => (random.NextDouble() * 1000 * (column + 1)).ToString("G6", CultureInfo.InvariantCulture),
        5 => random.Next(3).ToString(CultureInfo.InvariantCulture),
        6 => Words[random.Next(Words.Length)],
        7 => new string((char)random.Next(32, 127), random.Next(0, 40)),
        _ => (random.NextDouble() * 10).ToString("F2", CultureInfo.InvariantCulture),
    };

    private static byte[] RealParquet(Random random, int rows, int groupRows = 150)
    {
        var fields = new DataField[] { new DataField<double?>("x"), new DataField<int>("n"), new DataField<string>("city"), new DataField<bool>("flag"), new DataField<DateTime>("t") };
        using var buffer = new MemoryStream();
        var writer = ParquetWriter.CreateAsync(new ParquetSchema(fields), buffer).GetAwaiter().GetResult();
        try
        {
            for (var groupStart = 0; groupStart < rows; groupStart += groupRows)
            {
                var count = Math.Min(groupRows, rows - groupStart);
                using var group = writer.CreateRowGroup();
                group.WriteAsync<double>(fields[0], Enumerable.Range(0, count).Select(_ => random.Next(8) == 0 ? (double?)null : random.NextDouble() * 50).ToArray()).GetAwaiter().GetResult();
                group.WriteAsync<int>(fields[1], Enumerable.Range(0, count).Select(_ => random.Next(-5, 100)).ToArray()).GetAwaiter().GetResult();
                group.WriteAsync(fields[2], Enumerable.Range(0, count).Select(_ => Cities[random.Next(Cities.Length)]).ToArray()).GetAwaiter().GetResult();
                group.WriteAsync<bool>(fields[3], Enumerable.Range(0, count).Select(_ => random.Next(2) == 0).ToArray()).GetAwaiter().GetResult();
                group.WriteAsync<DateTime>(fields[4], Enumerable.Range(0, count).Select(_ => new DateTime(2020, 1, 1).AddHours(random.Next(100_000))).ToArray()).GetAwaiter().GetResult();
            }
        }
        finally
        {
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return buffer.ToArray();
    }

    /// <summary>None, or one of: flipped bytes, inserted junk, a duplicated chunk, cut short (Parquet: often in the footer).</summary>
    private static byte[] Mutate(Random random, byte[] bytes, bool parquet)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        switch (random.Next(parquet ? 6 : 5))
        {
            case 0:
                return bytes;
            case 1:
                var flipped = bytes.ToArray();
                for (var k = random.Next(1, 8); k > 0; k--)
                {
                    flipped[random.Next(flipped.Length)] = (byte)random.Next(256);
                }

                return flipped;
            case 2:
                var at = random.Next(bytes.Length);
                var junk = new byte[random.Next(1, 64)];
                random.NextBytes(junk);
                return [.. bytes.AsSpan(0, at), .. junk, .. bytes.AsSpan(at)];
            case 3:
                var from = random.Next(bytes.Length);
                var length = Math.Min(bytes.Length - from, random.Next(1, 4096));
                return [.. bytes, .. bytes.AsSpan(from, length)];
            case 4:
                return bytes[..random.Next(bytes.Length)];
            default:
                // The footer and its length: where a Parquet reader trusts the file most.
                var footer = bytes.ToArray();
                for (var k = random.Next(1, 6); k > 0; k--)
                {
                    footer[footer.Length - 1 - random.Next(Math.Min(footer.Length, 400))] = (byte)random.Next(256);
                }

                return footer;
        }
    }

    private static byte[] MutateCompressed(Random random, byte[] gzip) => random.Next(5) switch
    {
        0 => gzip[..random.Next(gzip.Length)],
        1 => Flip(random, gzip),
        _ => gzip,
    };

    private static byte[] Flip(Random random, byte[] bytes)
    {
        var copy = bytes.ToArray();
        if (copy.Length > 10)
        {
            copy[10 + random.Next(copy.Length - 10)] ^= (byte)(1 << random.Next(8)); // past the gzip header
        }

        return copy;
    }

    /// <summary>A header, then 300 MB of "0,0" rows, compressed about a thousand times, written a megabyte at a time.</summary>
    private static readonly Lazy<byte[]> GzipBomb = new(() =>
    {
        using var buffer = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write("a,b\n"u8);
            var zeros = new byte[1 << 20];
            for (var i = 0; i < zeros.Length; i += 4)
            {
                "0,0\n"u8.CopyTo(zeros.AsSpan(i));
            }

            for (var i = 0; i < 300; i++)
            {
                gzip.Write(zeros);
            }
        }

        return buffer.ToArray();
    });

    private static byte[] Repeated(ReadOnlySpan<byte> head, byte fill, int count, ReadOnlySpan<byte> tail)
    {
        var bytes = new byte[head.Length + count + tail.Length];
        head.CopyTo(bytes);
        bytes.AsSpan(head.Length, count).Fill(fill);
        tail.CopyTo(bytes.AsSpan(head.Length + count));
        return bytes;
    }

    private static (string, byte[]) Bomb(string kind, Random random) => kind switch
    {
        // 300 MB of CSV in ~300 KB: past 100 times its size.
        "gzip-bomb" => (random.Next(2) == 0 ? "bomb.csv.gz" : "bomb", GzipBomb.Value),
        "wide" => ("wide.csv", Encoding.ASCII.GetBytes(string.Join(',', Enumerable.Range(0, 20_000).Select(c => $"c{c}")) + "\n" + string.Join(',', Enumerable.Repeat("1", 20_000)) + "\n")),
        "huge-cell" => ("cell.csv", Repeated("a,b\n1,"u8, (byte)'x', 24 << 20, "\n2,3\n"u8)),
        "long-line" => ("line.jsonl", Repeated("{\"a\":\""u8, (byte)'y', 40 << 20, ""u8)),
        "parquet-rows" => ("rows.parquet", ClaimBillions(RealParquet(random, 777, groupRows: 777))),
        "parquet-footer" => ("footer.parquet", ClaimFooter(RealParquet(random, 50))),
        "nested-json" => ("nested.jsonl", Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", 100_000)) + "1" + new string('}', 100_000) + "\n")),
        _ => ("bomb.parquet.gz", SyntheticData.Gzip(ClaimBillions(RealParquet(random, 777, groupRows: 777)))),
    };

    /// <summary>
    /// Rewrites a Parquet footer's row counts from <paramref name="rows"/> to <paramref name="claimed"/>, and its length:
    /// FileMetaData.num_rows, RowGroup.num_rows and each column's ColumnMetaData.num_values, each an i64 one field id after
    /// the previous field in Thrift's compact protocol (header byte 0x16, then a zigzag varint). Returns how many it rewrote.
    /// </summary>
    public static (byte[] File, int Rewritten) ClaimRows(byte[] file, long rows, long claimed)
    {
        var footerLength = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(file.Length - 8));
        var footer = file.AsSpan(file.Length - 8 - footerLength, footerLength).ToArray();
        byte[] Field(long value) => [0x16, .. Varint((ulong)((value << 1) ^ (value >> 63)))];
        var from = Field(rows);
        var to = Field(claimed);
        var rewritten = new List<byte>();
        var count = 0;
        for (var i = 0; i < footer.Length;)
        {
            if (footer.AsSpan(i).StartsWith(from))
            {
                rewritten.AddRange(to);
                i += from.Length;
                count++;
            }
            else
            {
                rewritten.Add(footer[i++]);
            }
        }

        var length = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, rewritten.Count);
        return ([.. file.AsSpan(0, file.Length - 8 - footerLength), .. rewritten, .. length, .. "PAR1"u8], count);
    }

    private static byte[] ClaimBillions(byte[] file)
    {
        var (forged, rewritten) = ClaimRows(file, 777, 2_000_000_000);
        return rewritten > 0 ? forged : throw new InvalidOperationException("no row count of 777 found in the footer");
    }

    private static byte[] ClaimFooter(byte[] file)
    {
        var copy = file.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(copy.Length - 8), 0x7FFF_FFF0);
        return copy;
    }

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }
}
