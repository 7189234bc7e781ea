using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Pipeline.Telemetry;

namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// Every measurement of the pipeline's meters while it lives (a <see cref="MeterListener"/>): the instruments' own
/// output, whatever exporter is configured. Measurements of other tests running at the same time are seen too, so
/// assertions pick theirs by tag.
/// </summary>
internal sealed class MetricCapture : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Measurement> _measurements = new();

    public MetricCapture()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (PipelineTelemetry.All.Contains(instrument.Meter.Name))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => _measurements.Enqueue(new Measurement(i.Name, value, tags.ToArray())));
        _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => _measurements.Enqueue(new Measurement(i.Name, value, tags.ToArray())));
        _listener.Start();
    }

    public void Collect() => _listener.RecordObservableInstruments();

    public List<Measurement> For(string instrument) => _measurements.Where(m => m.Instrument == instrument).ToList();

    public void Dispose() => _listener.Dispose();

    internal sealed record Measurement(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)
    {
        public string? Tag(string key) => Tags.FirstOrDefault(t => t.Key == key).Value?.ToString();
    }
}
