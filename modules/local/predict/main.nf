process PREDICT {
    tag "${batch_id}"
    label 'process_gpu'

    input:
    tuple val(batch_id), path(haplotypes)
    path model_file         // the model (folder, weights or .onnx file); [] for a named model ('oracle')
    path hparams_file       // [] unless hparams names a JSON file
    path finetuned_weights  // [] when not given; several with tissues (named finetuned:<stem>)
    path track_names        // [] when not given
    val model_args          // the plan's flags (seqgx plan): backend, readouts, a named model, hparams as JSON text

    output:
    // The reference.json files travel with the predictions: `seqgx stats` reads the model identity.
    tuple val(batch_id), path('predictions/*.{predictions.tsv,reference.json}'), emit: predictions
    path 'predictions/*.reference_tracks.tsv', optional: true,    emit: reference_tracks
    path 'versions.yml',                                          emit: versions

    script:
    def args     = task.ext.args ?: ''   // the parameters passed as they are (conf/modules.config, generated from the registry)
    def model    = model_file ? "--model ${model_file}" : ''
    def hparams  = hparams_file ? "--hparams ${hparams_file}" : ''
    def weights  = finetuned_weights ? "--finetuned-weights ${finetuned_weights}" : ''
    def names    = track_names ? "--track-names ${track_names}" : ''
    """
    seqgx predict \\
        --haplotypes ${haplotypes} ${model} ${hparams} ${weights} ${names} ${model_args} ${args} \\
        --threads ${task.cpus} --out predictions

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        torch: \$(python -c 'import torch; print(torch.__version__)')
        onnxruntime: \$(python -c 'import onnxruntime; print(onnxruntime.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p predictions
    touch predictions/${batch_id}.stub.predictions.tsv predictions/${batch_id}.stub.reference.json
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
