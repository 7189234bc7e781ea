using System.Globalization;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Training.Onnx;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>A trained, exported student and what it scored on the validation split (true labels).</summary>
public sealed record DistilledStudent(byte[] Onnx, string Description, int Epochs, int BestEpoch, double ValidationLoss, double ValidationMetric, double Seconds, double OnnxMaxAbsDiff);

/// <summary>
/// Distillation of a large or slow model (a big tree ensemble) into an MLP student: the network is trained on the
/// teacher's outputs for the train rows — its class probabilities (soft cross-entropy) or predicted values — with early
/// stopping on the true validation labels, then exported like any network. Whether it is served is the measured gate's
/// call (<see cref="Quantization.QuantizationStep"/>): only when it keeps quality within the tolerance and is faster.
/// </summary>
public static class Distiller
{
    /// <summary>The student: two hidden layers of 64 (a few µs per row in ONNX Runtime), moderate regularization.</summary>
    public static readonly TrialParameters Student = new([64, 64], 3e-3, 1e-3, 0, 64);

    /// <param name="manifest">The dataset version.</param>
    /// <param name="train">Train rows (the student's inputs).</param>
    /// <param name="validation">Validation rows with their true labels.</param>
    /// <param name="teacherOutputs">The teacher's outputs on <paramref name="train"/> in the served layout (probabilities or values).</param>
    /// <param name="device">Training device.</param>
    /// <param name="seed">Seed of the student's initialization and batches.</param>
    /// <param name="maxEpochs">Epoch limit.</param>
    /// <param name="patience">Epochs without a better validation loss before stopping.</param>
    /// <param name="outOfTime">Checked between batches: the time allowed for the student is spent.</param>
    /// <param name="metadata">Extra ONNX metadata.</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    public static DistilledStudent Distill(DatasetManifest manifest, DatasetSplit train, DatasetSplit validation, float[] teacherOutputs, Device device, int seed,
        int maxEpochs, int patience, Func<bool> outOfTime, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        using var data = new TrainingData(manifest, train, validation, device, teacherTargets: teacherOutputs);
        var parameters = Student with { BatchSize = Math.Min(Student.BatchSize, Math.Max(16, train.RowCount / 8)) };
        var state = new TrialState { Index = 0, Parameters = parameters };
        using (var trainer = new TrialTrainer(data, state, seed, maxEpochs, patience))
        {
            trainer.Run(outOfTime, null, cancellationToken);
        }

        using var student = TrialTrainer.Build(data, state);
        var onnx = OnnxMlpExporter.Export(student.Definition, metadata);
        var outputName = data.Classification ? OnnxContract.ProbabilitiesOutput : OnnxContract.ValueOutput;
        var rows = MlpTrainer.ToRowMajor(validation);
        double difference;
        using (var evaluator = new OnnxEvaluator(onnx, OnnxContract.InputName, outputName))
        {
            var served = evaluator.Run(rows, validation.RowCount, data.FeatureCount);
            var reference = student.Predict(rows, validation.RowCount);
            difference = served.Zip(reference, (a, b) => Math.Abs((double)a - b)).DefaultIfEmpty(0).Max();
        }

        var description = string.Create(CultureInfo.InvariantCulture,
            $"distilled student: MLP {string.Join('×', parameters.HiddenLayers)} trained on the teacher's {(data.Classification ? "probabilities" : "predictions")} for {train.RowCount} train rows, best epoch {state.BestEpoch} of {state.Epoch}, validation loss {state.BestLoss:F4} (true labels)");
        return new DistilledStudent(onnx, description, state.Epoch, state.BestEpoch, state.BestLoss, state.BestMetric, state.Seconds, difference);
    }
}
