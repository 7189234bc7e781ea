using Parquet;
using Pipeline.Datasets;

namespace Pipeline.Tests.Core.Datasets;

public class DatasetParquetWriterTests
{
    [Fact]
    public async Task Write_BinaryFeatures_AreParquetBooleans_AndReadBackAsTheSameFloats()
    {
        var ct = TestContext.Current.CancellationToken;
        string[] names = ["x", "colour=red", "member"];
        bool[] binary = [false, true, true];
        // 1,000 rows in row groups of 300: the 0/1 conversion's vector loop (32 at a time) and its scalar tail both run.
        var random = new Random(7);
        var rows = Enumerable.Range(0, 1000).Select(i => new[] { (float)random.NextDouble() - 0.5f, random.Next(2), i % 3 == 0 ? 1f : 0f, i }).ToArray();
        using var stream = new MemoryStream();
        await using (var writer = await DatasetParquetWriter.CreateAsync(stream, names, binary, rowGroupSize: 300, ct))
        {
            foreach (var batch in rows.Chunk(70))
            {
                await writer.ReserveAsync(batch.Length, ct);
                foreach (var row in batch)
                {
                    var index = writer.Count;
                    writer.Add(row[3]);
                    for (var f = 0; f < names.Length; f++)
                    {
                        writer.Feature(f)[index] = row[f];
                    }
                }
            }

            await writer.FlushAsync(ct);
        }

        stream.Position = 0;
        await using (var reader = await ParquetReader.CreateAsync(stream, cancellationToken: ct))
        {
            Assert.Equal([typeof(float), typeof(bool), typeof(bool), typeof(float)], reader.Schema.GetDataFields().Select(f => f.ClrType));
            Assert.True(reader.RowGroupCount > 1);
        }

        stream.Position = 0;
        var split = await DatasetParquet.ReadAsync(stream, names, ct);
        for (var f = 0; f < names.Length; f++)
        {
            Assert.Equal(rows.Select(r => r[f]), split.Features[f]);
        }

        Assert.Equal(rows.Select(r => r[3]), split.Target);
    }

    [Theory]
    [InlineData(40, 5)] // in the vector loop (values 0-31)
    [InlineData(40, 35)] // in the scalar tail
    [InlineData(1, 0)]
    public async Task Write_BinaryFeatureHoldingAnotherValue_Throws(int length, int bad)
    {
        var ct = TestContext.Current.CancellationToken;
        using var stream = new MemoryStream();
        await using var writer = await DatasetParquetWriter.CreateAsync(stream, ["flag"], [true], rowGroupSize: 100, ct);
        await writer.ReserveAsync(length, ct);
        for (var i = 0; i < length; i++)
        {
            writer.Feature(0)[writer.Count] = i == bad ? 0.5f : i % 2;
            writer.Add(0);
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => writer.FlushAsync(ct));
        Assert.Contains("'flag'", error.Message);
    }
}
