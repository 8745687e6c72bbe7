process EXPORT_ONNX {
    tag "${model_file ?: model_args}"
    label 'process_medium'

    input:
    path model_file     // [] when the model is a name ('random', 'oracle')
    path hparams_file   // [] unless hparams names a JSON file
    path track_names    // [] when not given (stored in the ONNX file)
    val model_args      // the plan's flags (seqgx plan): precision, a named model, hparams as JSON text

    output:
    path 'model.onnx',   emit: onnx
    path 'versions.yml', emit: versions

    script:
    def args      = task.ext.args ?: ''   // window_length, seed (conf/modules.config, generated from the registry)
    def model     = model_file ? "--model ${model_file}" : ''
    def hparams   = hparams_file ? "--hparams ${hparams_file}" : ''
    def names     = track_names ? "--track-names ${track_names}" : ''
    // All bins and tracks, so every readout predict builds (tracks by name, bins, fine-tuned) works on it.
    """
    seqgx export-onnx \\
        ${model} ${hparams} ${names} ${model_args} ${args} --threads ${task.cpus} --out model.onnx

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        torch: \$(python -c 'import torch; print(torch.__version__)')
        onnxruntime: \$(python -c 'import onnxruntime; print(onnxruntime.__version__)')
    END_VERSIONS
    """

    stub:
    """
    touch model.onnx
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
