using System.Text;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Serving.Predict;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>
/// The warm path allocates per request, not per row: parsing and running 1,000 rows allocates (almost) no more managed
/// memory than 10 rows. Counted with <see cref="GC.GetAllocatedBytesForCurrentThread"/>: deterministic, not timed.
/// </summary>
public sealed class WarmPathAllocationTests
{
    private static byte[] Body(int rows) =>
        Encoding.UTF8.GetBytes("{\"rows\":[" + string.Join(',', Enumerable.Range(0, rows).Select(r => $"{{\"a\":{r % 7}.25,\"b\":-{r % 5}.5}}")) + "]}");

    private static long AllocatedFor(LoadedModel model, byte[] body, RunOptions runOptions)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        using (var features = PredictRequestReader.Parse(body, model, maxRows: 10_000, out var rows))
        {
            var output = System.Buffers.ArrayPool<float>.Shared.Rent(rows * model.OutputWidth);
            model.Run(features.Array, rows, output, runOptions);
            System.Buffers.ArrayPool<float>.Shared.Return(output);
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void ParseAndRun_ThousandRows_AllocatesNoMoreThanTenRows()
    {
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1 };
        using var model = LoadedModel.Load("alloc", "v1", null, TestModels.TwoClass(bias: 0), options, DateTimeOffset.UnixEpoch);
        using var runOptions = new RunOptions();
        var small = Body(10);
        var large = Body(1000);
        for (var i = 0; i < 20; i++)
        {
            // Warm up: JIT, ONNX Runtime's arena, and pool buckets for both sizes.
            AllocatedFor(model, small, runOptions);
            AllocatedFor(model, large, runOptions);
        }

        var ten = Enumerable.Range(0, 5).Min(_ => AllocatedFor(model, small, runOptions));
        var thousand = Enumerable.Range(0, 5).Min(_ => AllocatedFor(model, large, runOptions));

        Assert.True(thousand - ten < 512, $"10 rows allocate {ten} bytes, 1,000 rows {thousand}: allocation grows with rows.");
    }
}
